"""The functional loader compiles the farm's pillar, loads Salt's own modules, and loads ours as a
site server does: through the package's ``salt.loader`` entry point, nothing synced."""

import os

from jetson_farm.loader import loader_dirs


def test_loader_compiles_the_farm_pillar(loaders, farm_dir):
    assert loaders.pillar["jetson"]["sites"]["site01"]["root"] == str(farm_dir / "root")
    assert loaders.modules.test.ping() is True


def test_our_modules_come_from_the_entry_point_and_nothing_is_synced(loaders):
    # Salt loads each module under a name of its own, so the file is found through a function.
    source = loaders.modules.jetson_rootfs.list.__globals__["__file__"]
    assert os.path.dirname(source) in loader_dirs()["modules"], source
    assert not loaders.opts.get("module_dirs"), loaders.opts["module_dirs"]
    # The sync the loaders run at their start found nothing to copy: no _modules in file_roots.
    roots = loaders.opts["file_roots"]["base"]
    assert not [root for root in roots if os.path.exists(os.path.join(root, "_modules"))], roots
