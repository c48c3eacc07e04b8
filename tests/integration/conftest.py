"""A real salt-master and site-server minion (pytest-salt-factories), shared by the session.

Each test writes its own ``jetson`` pillar with the ``farm`` fixture; the daemons stay up.
"""

import json
import logging

import pytest

from tests.conftest import SALT_DIR, make_pillar

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def pillar_tree(salt_factories):
    path = salt_factories.root_dir / "pillar"
    path.mkdir(parents=True, exist_ok=True)
    (path / "top.sls").write_text("base:\n  '*':\n    - jetson\n")
    (path / "jetson.sls").write_text("jetson: {}\n")
    return path


@pytest.fixture(scope="session")
def salt_master(salt_factories, pillar_tree):
    overrides = {
        "file_roots": {"base": [str(SALT_DIR), str(SALT_DIR / "states")]},
        "pillar_roots": {"base": [str(pillar_tree)]},
        "log_level_logfile": "info",
    }
    factory = salt_factories.salt_master_daemon("jetson-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def site_minion(salt_master):
    factory = salt_master.salt_minion_daemon("site01", overrides={"log_level_logfile": "info"})
    with factory.started():
        ret = factory.salt_call_cli(timeout=120).run("saltutil.sync_all")
        assert ret.returncode == 0, ret
        yield factory


class Farm:
    """One test's farm: its folder, its pillar, and the site minion to call."""

    def __init__(self, master, minion, pillar_tree, farm_dir, pillar):
        self.master, self.minion, self.dir = master, minion, farm_dir
        self._pillar_tree = pillar_tree
        self.pillar = pillar
        self.apply_pillar()

    def apply_pillar(self):
        (self._pillar_tree / "jetson.sls").write_text(json.dumps({"jetson": self.pillar}))
        ret = self.minion.salt_call_cli().run("saltutil.refresh_pillar", wait=True)
        assert ret.returncode == 0, ret

    def call(self, fun, *args, **kwargs):
        """``salt-call fun args`` on the site minion; the ProcessResult."""
        return self.minion.salt_call_cli(timeout=180).run(fun, *args, **kwargs)

    def salt(self, fun, *args, **kwargs):
        """``salt site01 fun args`` through the master; the ProcessResult."""
        return self.master.salt_cli(timeout=180).run(fun, *args, minion_tgt=self.minion.id, **kwargs)


@pytest.fixture
def farm(salt_master, site_minion, pillar_tree, farm_dir):
    farm = Farm(salt_master, site_minion, pillar_tree, farm_dir, make_pillar(farm_dir))
    yield farm
    (pillar_tree / "jetson.sls").write_text("jetson: {}\n")


@pytest.fixture(autouse=True, scope="session")
def _quiet_daemon_shutdown():
    # The daemons log through handlers whose streams pytest has closed at teardown.
    logging.raiseExceptions = False
