"""``salt-run jetson.check`` compares the version of every synced module copy, on the master and on
each site server, with the installed core's."""

import pathlib
import re

import salt.config

import jetson_farm

STALE = "0.0.1"


def extmods(factory, loader):
    """The daemon's ``extension_modules`` folder, as its own config resolves it."""
    return pathlib.Path(loader(factory.config_file)["extension_modules"])


def make_stale(path):
    text = path.read_text()
    path.write_text(re.sub(r'^__jetson_farm_version__ = ".*"', f'__jetson_farm_version__ = "{STALE}"',
                           text, count=1, flags=re.M))


def test_check_reports_the_versions_of_the_master_and_each_site(runners, farm):
    ret = runners.salt_run_cli(timeout=300).run("jetson.check")
    assert ret.returncode == 0, ret
    versions = ret.data["versions"]
    assert versions["problems"] == []
    assert versions["master"]["core"] == versions["site01"]["core"] == jetson_farm.__version__
    # The session's daemons were synced: their copies are named, each of the core's version.
    assert versions["master"]["synced"]["runners/jetson.py"] == jetson_farm.__version__
    assert versions["site01"]["synced"]["modules/jetson_rootfs.py"] == jetson_farm.__version__


def test_a_stale_synced_copy_fails_the_check_naming_it(runners, farm):
    runner = extmods(runners, salt.config.master_config) / "runners" / "jetson.py"
    module = extmods(farm.minion, salt.config.minion_config) / "modules" / "jetson_nfs.py"
    make_stale(runner)
    make_stale(module)
    try:
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
        assert runners.salt_run_cli(timeout=120).run("saltutil.sync_runners").returncode == 0
        assert farm.salt("saltutil.sync_modules").returncode == 0
    again = runners.salt_run_cli(timeout=300).run("jetson.check")
    assert again.returncode == 0, again
