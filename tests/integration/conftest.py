"""A real salt-master and site-server minion (pytest-salt-factories), shared by the session.

Each test writes its own ``jetson`` pillar with the ``farm`` fixture; the daemons stay up.
Every test here is marked ``integration`` by tests/conftest.py.
"""

import json

import pytest

from tests import salt_clients
from tests.conftest import SALT_DIR, make_pillar
from tests.integration.site_env import exported_paths, unexport_under
from tests.lab_fixture import shared_lab  # noqa: F401  (the session lab behind every module's ``lab``)


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    # A root of its own per session, so two test runs on one machine never share a pillar.
    return {"root_dir": tmp_path_factory.mktemp("salt-factories")}


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
        "reactor": [{"jetson/site/enroll": [str(SALT_DIR / "reactor" / "jetson_site_enroll.sls")]}],
    }
    factory = salt_factories.salt_master_daemon("jetson-master", overrides=overrides)
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def runners(salt_master):
    """The session master: it runs from the venv's Python, so Salt finds the runner through the
    package's ``salt.loader`` entry point (jetson_farm/loader.py), as on a user's master."""
    return salt_master


@pytest.fixture(scope="session")
def site_minion(salt_master):
    factory = salt_master.salt_minion_daemon("site01", overrides={"log_level_logfile": "info"})
    with factory.started():
        yield factory


class Farm:
    """One test's farm: its folder, its pillar, and the site minion to call."""

    def __init__(self, master, minion, pillar_tree, farm_dir, pillar):
        self.master, self.minion, self.dir = master, minion, farm_dir
        self._pillar_tree = pillar_tree
        self.pillar = pillar
        self.apply_pillar()

    def apply_pillar(self):
        """Write this test's pillar and make sure the minion DAEMON holds it.

        The refresh goes through the master to the daemon (a salt-call refresh may leave the
        daemon's in-memory pillar at the previous test's); a few tries, no timing involved. Both
        questions are jobs sent from this process (tests/salt_clients.py), not CLI processes.
        """
        (self._pillar_tree / "jetson.sls").write_text(json.dumps({"jetson": self.pillar}))
        for _ in range(5):
            self.ask("saltutil.refresh_pillar", wait=True)
            if self.daemon_pillar() == self.pillar:
                return
        raise AssertionError("the site minion daemon never picked up this test's pillar")

    def daemon_pillar(self):
        return (self.ask("pillar.item", "jetson", unmask=True) or {}).get("jetson")

    def ask(self, fun, *args, **kwargs):
        """What the site minion daemon returns for ``fun``, asked from this process through the
        master (no CLI process); fails naming the question when it failed."""
        return salt_clients.answer(self.master.config_file, self.minion.id, fun, *args, timeout=180,
                                   **kwargs)

    def call(self, fun, *args, **kwargs):
        """``salt-call fun args`` on the site minion; the ProcessResult."""
        return self.minion.salt_call_cli(timeout=180).run(fun, *args, **kwargs)

    def salt(self, fun, *args, **kwargs):
        """``salt site01 fun args`` through the master; the ProcessResult."""
        return self.master.salt_cli(timeout=180).run(fun, *args, minion_tgt=self.minion.id, **kwargs)


def withdraw_exports(farm):
    """Withdraw what a test left exported under its folder: ``state.apply jetson.site`` exports
    the farm's boards (jetson/boards.sls) into the pillar's exports file, by default the real
    /etc/exports.d/jetson.exports. Through the site module first (live and file), then exportfs."""
    if not any(path.startswith(f"{farm.dir}/") for path in exported_paths()):
        return
    for board in farm.pillar.get("boards", {}):
        salt_clients.job(farm.master.config_file, farm.minion.id, "jetson_nfs.unexport", [board])
    unexport_under(farm.dir)


@pytest.fixture
def farm(salt_master, site_minion, pillar_tree, farm_dir):
    farm = Farm(salt_master, site_minion, pillar_tree, farm_dir, make_pillar(farm_dir))
    yield farm
    withdraw_exports(farm)
    (pillar_tree / "jetson.sls").write_text("jetson: {}\n")
