"""``salt-run jetson.check`` compares the version of every synced module copy, on the master and on
each site server, with the installed core's.

The session's daemons load the modules through the package's ``salt.loader`` entry point; the
second test alone syncs, on purpose, and removes its copies again so that no later test runs
them (the daemons and their cachedirs are the session's).
"""

import pathlib
import re

import salt.config

import jetson_farm
from jetson_farm.versions import synced_copies

STALE = "0.0.1"


def extmods(factory, loader):
    """The daemon's ``extension_modules`` folder, as its own config resolves it."""
    return pathlib.Path(loader(factory.config_file)["extension_modules"])


def make_stale(path):
    text = path.read_text()
    path.write_text(re.sub(r'^__jetson_farm_version__ = ".*"', f'__jetson_farm_version__ = "{STALE}"',
                           text, count=1, flags=re.M))


def drop_copies(folder):
    """Delete the copies of our modules synced into ``extension_modules`` folder ``folder``."""
    for label in synced_copies(str(folder)):
        (folder / label).unlink()


def test_check_reports_the_versions_of_the_master_and_each_site(runners, farm):
    ret = runners.salt_run_cli(timeout=300).run("jetson.check")
    assert ret.returncode == 0, ret
    versions = ret.data["versions"]
    assert versions["problems"] == []
    assert versions["master"]["core"] == versions["site01"]["core"] == jetson_farm.__version__
    # Nothing synced: the daemons run what the entry point gives, the installed package.
    assert versions["master"]["synced"] == versions["site01"]["synced"] == {}


def test_a_stale_synced_copy_fails_the_check_naming_it(runners, farm):
    master_extmods = extmods(runners, salt.config.master_config)
    site_extmods = extmods(farm.minion, salt.config.minion_config)
    runner = master_extmods / "runners" / "jetson.py"
    module = site_extmods / "modules" / "jetson_nfs.py"
    try:
        assert runners.salt_run_cli(timeout=120).run("saltutil.sync_runners").returncode == 0
        assert farm.salt("saltutil.sync_modules").returncode == 0
        make_stale(runner)
        make_stale(module)
        ret = runners.salt_run_cli(timeout=300).run("jetson.check")
        assert ret.returncode == 1, ret
        assert ret.data["result"] is False
        problems = ret.data["versions"]["problems"]
        core = jetson_farm.__version__
        assert f"master: the synced runners/jetson.py in {runner.parent.parent} is jetson-farm {STALE} but " \
               f"the installed core is {core}; it hides the installed module: sync again " \
               "(saltutil.sync_all) or delete it" in problems
        assert any(p.startswith(f"site01: the synced modules/jetson_nfs.py in {module.parent.parent} is "
                                f"jetson-farm {STALE} but the installed core is {core}") for p in problems)
        assert len(problems) == 2, problems
    finally:
        drop_copies(master_extmods)
        drop_copies(site_extmods)
        # The site minion daemon loaded the copies at the sync: back to the entry point's modules.
        assert farm.salt("saltutil.refresh_modules", **{"async": False}).returncode == 0
    again = runners.salt_run_cli(timeout=300).run("jetson.check")
    assert again.returncode == 0, again
    assert again.data["versions"]["master"]["synced"] == again.data["versions"]["site01"]["synced"] == {}
