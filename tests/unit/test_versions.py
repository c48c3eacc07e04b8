"""Every Salt module file states the core's version; a synced copy of another version is named."""

import pathlib

import pytest

import jetson_farm
from jetson_farm.loader import loader_dirs, salt_tree
from jetson_farm.versions import file_version, report
from tests.conftest import SALT_DIR

MODULE_FILES = sorted(SALT_DIR.glob("_*/*.py"))


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_module_file_states_the_core_version(path):
    assert file_version(path) == jetson_farm.__version__, (
        f"{path} must say __jetson_farm_version__ = {jetson_farm.__version__!r} (jetson_farm/versions.py)")


def test_the_entry_point_names_every_loader_folder_of_the_repository():
    assert pathlib.Path(salt_tree()) == SALT_DIR
    dirs = loader_dirs()
    assert {"modules", "runners", "states", "grains"} <= set(dirs)
    for kind, folders in dirs.items():
        assert folders == [str(SALT_DIR / f"_{kind}")]


def test_synced_copies_of_another_version_are_each_named(tmp_path):
    extmods = tmp_path / "extmods"
    for kind in ("modules", "runners", "states"):
        (extmods / kind).mkdir(parents=True)
    current = f'__jetson_farm_version__ = "{jetson_farm.__version__}"\n'
    (extmods / "runners" / "jetson.py").write_text(current)
    (extmods / "modules" / "jetson_nfs.py").write_text('__jetson_farm_version__ = "0.0.1"\n')
    (extmods / "states" / "jetson_site.py").write_text("# synced before versions were written\n")
    (extmods / "modules" / "someone_elses.py").write_text('__jetson_farm_version__ = "9"\n')
    got = report("site01", str(extmods))
    assert got["core"] == jetson_farm.__version__
    assert got["synced"] == {"modules/jetson_nfs.py": "0.0.1", "runners/jetson.py": jetson_farm.__version__,
                             "states/jetson_site.py": None}
    hides = "; it hides the installed module: sync again (saltutil.sync_all) or delete it"
    core = jetson_farm.__version__
    assert got["problems"] == [
        f"site01: the synced modules/jetson_nfs.py in {extmods} is jetson-farm 0.0.1 but the installed "
        f"core is {core}{hides}",
        f"site01: the synced states/jetson_site.py in {extmods} is jetson-farm (no version) but the "
        f"installed core is {core}{hides}",
    ]


@pytest.mark.parametrize("extmods", [None, "", "/nonexistent/extmods"])
def test_nothing_synced_is_no_problem(extmods):
    assert report("master", extmods) == {"core": jetson_farm.__version__, "synced": {}, "problems": []}
