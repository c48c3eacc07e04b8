"""Two sites in one engine run (tests/engine_wire.py; docs/architecture.md, "Sites in one run"):
the sites' boards switch side by side, each site with its own jobs and its own store, and a site
whose minion does not answer fails only its own boards, naming the site, with nothing taken."""

import pytest

from tests.engine_wire import (  # noqa: F401 (fixtures)
    EngineFarm,
    default_image,
    farm_folder,
    module_folder,
    prompt_at_once,
)
from tests.functional.conftest import site_loaders

BOARDS = {"site01": ["jtk1", "jtk2"], "site02": ["jtk3", "jtk4"]}
FIRST = {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros", "jtk3": "alice/cuda-dev", "jtk4": "bob/ros"}
SILENT_TIMEOUT = 4  # site02's own, in its pillar: site01 keeps the default (30 s)
STEP_JOBS = ("jetson_power.stop_many", "jetson_power.ensure_down_many", "jetson_nfs.unexport_many",
             "jetson_rootfs.swap_many", "jetson_nfs.export_many", "jetson_power.start_many")


@pytest.fixture(scope="module")
def site02(salt_factories, tmp_path_factory):
    loaders = site_loaders(salt_factories, tmp_path_factory, "site02")
    yield loaders
    loaders.bus.close()


@pytest.fixture
def farm(session_loaders, site02, farm_folder):  # noqa: F811
    farm = EngineFarm(farm_folder, {"site01": session_loaders, "site02": site02}, BOARDS,
                      tune=lambda pillar: pillar["sites"]["site02"].update(silent_timeout=SILENT_TIMEOUT))
    yield farm
    farm.close()
    session_loaders.reset_state()
    site02.reset_state()


def test_one_run_switches_both_sites_side_by_side(farm):
    wire = farm.wire()
    reports = farm.run("switch", FIRST, wire=wire)
    for board, image in FIRST.items():
        assert reports[board]["result"] is True, reports[board]["error"]
        assert farm.journal(board)["image"] == image == farm.grain(board)["image"]
        assert farm.grain(board)["switch_id"] == reports[board]["switch_id"]
    # Each step is one job per site for that site's boards.
    assert {fun: sorted(wire.ran(fun)) for fun in STEP_JOBS} == {
        fun: [["site01"], ["site02"]] for fun in STEP_JOBS}
    # The same names on two sites are two images: each from its own site's store to its own board.
    assert farm.places("site01")["alice/cuda-dev"] == ["jtk1"]
    assert farm.places("site02")["alice/cuda-dev"] == ["jtk3"]
    assert farm.places("site02")[default_image("jtk3")] == ["site02:store"]
    assert farm.misplaced() == {}
    # Side by side: each site stopped its boards before the other's were verified.
    tags = wire.tags("jetson/switch/")
    for one, other in (("jtk1", "jtk3"), ("jtk3", "jtk1")):
        assert tags.index(f"jetson/switch/{one}/stop") < tags.index(f"jetson/switch/{other}/verify"), tags


def test_a_site_that_is_down_fails_only_its_own_boards(farm):
    before = {board: farm.journal(board) for board in BOARDS["site02"]}
    wire = farm.wire(silent={"site02"})
    reports = farm.run("switch", FIRST, wire=wire)
    for board in BOARDS["site01"]:
        assert reports[board]["result"] is True, reports[board]["error"]
        assert farm.journal(board)["image"] == FIRST[board]
    for board in BOARDS["site02"]:
        assert reports[board]["error"] == (
            f"{board}: refused: site site02 did not answer: site02: jetson_rootfs.state got no answer "
            "(is the minion up?)")
        assert wire.data(f"jetson/board/{board}/failed")[0]["step"] == "lease"
        assert farm.lease(board) is None and farm.sessions(board) == []
        assert farm.journal(board) == before[board]
        assert farm.grain(board)["switch_id"] == f"seed-{board}"
    assert not [minions for fun in STEP_JOBS for minions in wire.ran(fun) if "site02" in minions]
    assert farm.misplaced() == {}
    # Each site's reads are given up after that site's own silent_timeout (the wire gives up a
    # silent site at once; FarmBus waits that long for it).
    assert sorted(wire.give_ups) == [(("site01",), 30), (("site01",), 30), (("site02",), SILENT_TIMEOUT)]
