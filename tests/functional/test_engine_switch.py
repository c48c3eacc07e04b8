"""The switch engine (jetson_farm/switch.py) in this process against the real site modules and
disk (tests/engine_wire.py): a switch and a release, a busy board, and each step's failure.

Before the swap a failed step leaves the board's image where it was; a failed boot is rolled
back once and the board quarantined (a rollback that does not boot either: test_engine_many).
"""

import pathlib

import pytest

from jetson_farm.switch import STEPS
from jetson_lab.pdu import VirtualPdu
from tests.engine_wire import (  # noqa: F401 (fixtures)
    EngineFarm,
    default_image,
    farm_folder,
    module_folder,
    prompt_at_once,
)


@pytest.fixture
def make_farm(session_loaders, farm_folder):  # noqa: F811
    """``make_farm(tune=None)``: a farm of jtk1 and jtk2 on site01, both up on their defaults."""
    made = []

    def make(tune=None):
        made.append(EngineFarm(farm_folder, {"site01": session_loaders}, {"site01": ["jtk1", "jtk2"]},
                               tune=tune))
        return made[-1]

    yield make
    for farm in made:
        farm.close()
    session_loaders.reset_state()


@pytest.fixture
def farm(make_farm):
    return make_farm()


@pytest.fixture
def pdu_farm(make_farm):
    """The farm with jtk1 on a virtual PDU's outlet (driver http): the outlet powers the board."""
    farm = None

    def follow(outlet, power):
        board = farm.lab.boards["jtk1"]
        board.power_on() if power == "on" else board.power_off()

    with VirtualPdu(outlets=("1",), on_change=follow) as pdu:
        def tune(pillar):
            urls = {action: pdu.url(1, action) for action in ("on", "off", "status")}
            pillar["boards"]["jtk1"]["power"] = {"driver": "http", "timeout": 2, **urls}

        farm = make_farm(tune)
        yield farm, pdu


def test_a_switch_then_a_release(farm):
    wire = farm.wire()
    report = farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"]
    assert report["result"] is True, report
    switch_id = report["switch_id"]
    assert report["comment"] == "up on alice/cuda-dev for alice (ssh -J alice@site01 root@127.0.11.1)"
    assert [wire.data(f"jetson/switch/jtk1/{step}")[0]["number"] for step in STEPS] == list(range(9))
    assert {d["result"] for tag in wire.tags("jetson/switch/jtk1/") for d in wire.data(tag)} == {"ok"}
    assert wire.data("jetson/board/jtk1/ready")[0]["switch_id"] == switch_id
    journal = farm.journal("jtk1")
    assert (journal["image"], journal["user"], journal["switch_id"]) == ("alice/cuda-dev", "alice", switch_id)
    assert farm.at_nfsroot("jtk1") == "alice/cuda-dev" and farm.exported("jtk1")
    assert farm.grain("jtk1") == {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice",
                                  "switch_id": switch_id} == farm.marker_of("jtk1")
    assert farm.places()[default_image("jtk1")] == ["site01:store"]
    assert farm.misplaced() == {}
    assert farm.sessions("jtk1")[-1]["outcome"] == "active" and farm.lease("jtk1") is None
    assert farm.grain("jtk2")["switch_id"] == "seed-jtk2"  # the other board was left alone

    report = farm.run("release", ["jtk1"])["jtk1"]
    assert report["result"] is True, report
    assert farm.at_nfsroot("jtk1") == default_image("jtk1")
    assert farm.grain("jtk1")["switch_id"] == report["switch_id"]
    assert farm.places()["alice/cuda-dev"] == ["site01:store"] and farm.misplaced() == {}
    rows = farm.sessions("jtk1")
    assert [(r["switch_id"], r["outcome"]) for r in rows] == [
        (switch_id, "ended"), (report["switch_id"], "active")]
    assert rows[0]["jid"] == "test-switch" and rows[0]["started"] <= rows[0]["ready"]


def test_release_parks_a_board_without_default_image(make_farm):
    def no_default(pillar):
        pillar["boards"]["jtk2"].pop("image")
        pillar["defaults"].pop("image")

    farm = make_farm(no_default)
    report = farm.run("release", ["jtk2"])["jtk2"]
    assert report["result"] is True and report["comment"] == "parked: no image, unexported", report
    assert farm.journal("jtk2")["image"] is None and farm.at_nfsroot("jtk2") is None
    assert not any(pathlib.Path(farm.pillar["boards"]["jtk2"]["nfsroot"]).iterdir())
    assert not farm.exported("jtk2")
    assert farm.lab.boards["jtk2"].status()["power"] == "off"
    assert farm.places()[default_image("jtk2")] == ["site01:store"]
    assert farm.sessions("jtk2")[-1]["outcome"] == "parked"


def test_a_second_switch_of_a_busy_board_is_refused_at_once(farm):
    from jetson_farm.runner.leases import holder_token

    first = farm.killed_run("switch", {"jtk1": "alice/cuda-dev"}, "jetson_power.stop_many",
                            holder=holder_token())  # its holder (this process) still runs
    switch_id = first.data("jetson/switch/jtk1/lease")[0]["switch_id"]
    report = farm.run("switch", {"jtk1": "bob/ros"})["jtk1"]
    assert report["result"] is False
    assert report["error"].startswith("jtk1: refused: board jtk1 is busy: alice is switching it to "
                                      f"alice/cuda-dev (switch {switch_id}")
    assert farm.lease("jtk1")["switch_id"] == switch_id
    assert farm.places()["bob/ros"] == ["site01:store"]


@pytest.mark.parametrize(("request_", "message"), [
    ({"jtk9": "alice/cuda-dev"}, "jtk9: refused: unknown board 'jtk9'"),
    ({"jtk1": "alice/missing"}, "jtk1: refused: image alice/missing does not exist on site site01"),
    ({"jtk1": {"image": "bob/ros", "user": "alice"}}, "jtk1: refused: user 'alice' may not boot 'bob/ros'"),
])
def test_bad_requests_change_nothing(farm, request_, message):
    wire = farm.wire()
    report = next(iter(farm.run("switch", request_, wire=wire).values()))
    assert report["result"] is False and report["error"].startswith(message), report
    assert wire.published == [] or {fun for fun, _ in wire.published} <= {
        "jetson_rootfs.state", "jetson_rootfs.list"}  # step 0 reads the site, and nothing else
    assert farm.lease("jtk1") is None and farm.sessions("jtk1") == []
    untouched(farm, "jtk1")


def failed_at(farm, wire, report, step):
    """Checks that the board failed at ``step`` alone; its reason."""
    board = report["board"]
    assert report["result"] is False, report
    assert report["error"].startswith(f"{board}: step {step} failed: "), report
    assert wire.data(f"jetson/board/{board}/failed")[0]["step"] == step
    assert wire.tags(f"jetson/switch/{board}/")[-1] == f"jetson/switch/{board}/{step}"
    row = farm.sessions(board)[-1]
    assert (row["outcome"], row["reason"]) == ("failed", report["error"])
    assert farm.lease(board) is None and not farm.quarantined(board)
    assert farm.misplaced() == {}
    return report["error"]


def untouched(farm, board):
    """The board is still up on its default image, exported, as the seed left it."""
    assert farm.journal(board)["image"] == default_image(board) == farm.at_nfsroot(board)
    assert farm.exported(board)
    assert farm.grain(board)["switch_id"] == f"seed-{board}"


def test_stop_fails_when_the_power_device_fails_and_nothing_is_touched(pdu_farm):
    farm, pdu = pdu_farm
    pdu.set_fault("error")
    wire = farm.wire()
    report = farm.run("switch", {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}, wire=wire)
    reason = failed_at(farm, wire, report["jtk1"], "stop")
    assert "power driver http: off failed:" in reason and "answered 500" in reason
    untouched(farm, "jtk1")
    assert farm.places()["alice/cuda-dev"] == ["site01:store"]
    assert report["jtk2"]["result"] is True and farm.at_nfsroot("jtk2") == "bob/ros"


def test_down_fails_for_a_board_stuck_on_and_nothing_is_touched(make_farm):
    farm = make_farm(lambda pillar: pillar["boards"]["jtk1"].update(down_timeout=1))
    farm.lab.boards["jtk1"].set_fault("stuck_on")
    wire = farm.wire()
    reason = failed_at(farm, wire, farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"], "down")
    assert "the board is still up 1s after a hard off" in reason
    untouched(farm, "jtk1")
    assert wire.ran("jetson_nfs.unexport_many") == []


def exports_file_broken_before(farm, job):
    """``(the site's exports file, a wire that turns that file into a folder just before ``job``)``."""
    exports = pathlib.Path(farm.pillar["sites"]["site01"]["nfs"]["exports_file"])

    def break_the_exports_file():
        exports.unlink()
        exports.mkdir()

    return exports, farm.wire(before={job: break_the_exports_file})


def test_unexport_fails_and_the_image_stays_at_the_nfsroot(farm):
    exports, wire = exports_file_broken_before(farm, "jetson_nfs.unexport_many")
    reason = failed_at(farm, wire, farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"],
                       "unexport")
    assert str(exports) in reason
    assert farm.journal("jtk1")["image"] == default_image("jtk1") == farm.at_nfsroot("jtk1")
    assert wire.ran("jetson_rootfs.swap_many") == []
    assert farm.places()["alice/cuda-dev"] == ["site01:store"]


def test_swap_fails_and_the_previous_image_stays(farm):
    slot = pathlib.Path(farm.pillar["sites"]["site01"]["root"]) / "images" / "alice" / "cuda-dev"
    moved = slot.parent.parent / "cuda-dev.away"
    wire = farm.wire(before={"jetson_rootfs.swap_many": lambda: slot.rename(moved)})
    reason = failed_at(farm, wire, farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"],
                       "swap")
    assert "image alice/cuda-dev does not exist in the store" in reason
    journal = farm.journal("jtk1")
    assert (journal["image"], journal["operation"]) == (default_image("jtk1"), None)
    assert farm.at_nfsroot("jtk1") == default_image("jtk1")
    assert not farm.exported("jtk1")  # step 3 withdrew it; a failed step is not undone
    assert wire.ran("jetson_nfs.export_many") == []


def test_export_fails_after_the_swap(farm):
    exports, wire = exports_file_broken_before(farm, "jetson_nfs.export_many")
    reason = failed_at(farm, wire, farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"],
                       "export")
    assert str(exports) in reason
    assert farm.journal("jtk1")["image"] == "alice/cuda-dev" == farm.at_nfsroot("jtk1")
    assert wire.ran("jetson_power.start_many") == []
    # Run again, the file repaired: a new switch that converges (a failed one is not resumed).
    exports.rmdir()
    again = farm.run("switch", {"jtk1": "alice/cuda-dev"})["jtk1"]
    assert again["result"] is True, again
    assert again["switch_id"] != farm.sessions("jtk1")[-2]["switch_id"]
    assert farm.grain("jtk1")["switch_id"] == again["switch_id"] and farm.exported("jtk1")
    assert farm.misplaced() == {}


def test_start_fails_when_the_power_device_fails_at_power_on(pdu_farm):
    farm, pdu = pdu_farm
    wire = farm.wire(before={"jetson_power.start_many": lambda: pdu.set_fault("error")})
    reason = failed_at(farm, wire, farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"],
                       "start")
    assert "board jtk1, power driver http: cycle failed:" in reason and "answered 500" in reason
    assert farm.journal("jtk1")["image"] == "alice/cuda-dev" == farm.at_nfsroot("jtk1")
    assert farm.exported("jtk1") and farm.grain("jtk1") is None


def test_a_rollback_that_boots(make_farm):
    farm = make_farm(lambda pillar: pillar["boards"]["jtk1"].update(boot_timeout=1))
    board = farm.lab.boards["jtk1"]
    board.set_fault("no_boot")
    wire = farm.wire(before={"jetson/switch/jtk1/rollback": lambda: board.set_fault("clear")})
    report = farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"]
    assert report["error"].endswith(f"rolled back to {default_image('jtk1')}, which is up; board quarantined")
    assert farm.grain("jtk1")["switch_id"] == f"{report['switch_id']}-rollback"
    assert farm.quarantined("jtk1") and farm.exported("jtk1")
    assert farm.places()["alice/cuda-dev"] == ["site01:store"] and farm.misplaced() == {}
