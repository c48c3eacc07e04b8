"""Many boards in one engine run (tests/engine_wire.py): twelve boards at once, ten of them booting
their own working copies of one shared template and one that never boots; a copy that exists is
used as is and a template the site does not hold fails its board alone."""

import pytest

from jetson_farm.switch import STEPS
from tests.engine_wire import (  # noqa: F401 (fixtures)
    EngineFarm,
    default_image,
    farm_folder,
    module_folder,
    prompt_at_once,
)
from tests.unit.test_rootfs_helpers import manifest

BOARDS = [f"jtk{i}" for i in range(1, 13)]
FAULTY = "jtk12"
TEMPLATE = "admin/l4t-base"
USERS = {board: f"user{board[3:]}" for board in BOARDS[:10]}  # jtk1 -> user1 ...
SITE_JOBS = ("jetson_power.stop_many", "jetson_power.ensure_down_many", "jetson_nfs.unexport_many",
             "jetson_rootfs.swap_many", "jetson_nfs.export_many", "jetson_power.start_many")


def with_users(pillar):
    for user in USERS.values():
        pillar["users"][user] = {"email": f"{user}@example.org", "quota_gb": 1}
    pillar["images"]["admin/ghost"] = {"shared": True}
    pillar["boards"][FAULTY]["boot_timeout"] = 1


@pytest.fixture
def farm(session_loaders, farm_folder):  # noqa: F811
    farm = EngineFarm(farm_folder, {"site01": session_loaders}, {"site01": BOARDS}, tune=with_users,
                      images=(TEMPLATE, f"alice/many-{FAULTY}"))
    yield farm
    farm.close()
    session_loaders.reset_state()


def template_path(farm):
    return f"{farm.pillar['sites']['site01']['root']}/images/{TEMPLATE}"


def test_twelve_boards_in_one_run_ten_on_copies_of_one_template_one_never_boots(farm, session_loaders):
    before = manifest(template_path(farm))
    farm.lab.boards[FAULTY].set_fault("no_boot")
    wanted = {b: {"image": TEMPLATE, "user": user} for b, user in USERS.items()}
    wanted.update({"jtk11": "alice/cuda-dev", FAULTY: f"alice/many-{FAULTY}"})
    wire = farm.wire()
    reports = farm.run("switch", wanted, wire=wire)
    up = {**{b: f"{user}/l4t-base" for b, user in USERS.items()}, "jtk11": "alice/cuda-dev"}
    for board, image in up.items():
        assert reports[board]["result"] is True, reports[board]
        assert farm.journal(board)["image"] == image == farm.grain(board)["image"]
        assert farm.grain(board)["switch_id"] == reports[board]["switch_id"]
        assert farm.sessions(board)[-1]["outcome"] == "active"
        assert f"jetson/board/{board}/ready" in wire.tags()
    # Each step is one job to the site for the whole batch (the rollback adds one more).
    assert {fun: len(wire.ran(fun)) for fun in SITE_JOBS} == dict.fromkeys(SITE_JOBS, 2)
    assert wire.ran("jetson_rootfs.swap_many") == [["site01"], ["site01"]]

    # Each user boots their own working copy, made by one site job before anything touched a board.
    assert len(wire.ran("jetson_image.working_copies")) == 1
    for board, user in USERS.items():
        copy = f"{user}/l4t-base"
        assert (reports[board]["image"], reports[board]["template"]) == (copy, TEMPLATE)
        clone = wire.data(f"jetson/switch/{board}/clone")
        assert [c["result"] for c in clone] == ["started", "ok"], clone
        assert (clone[-1]["image"], clone[-1]["template"], clone[-1]["made"]) == (copy, TEMPLATE, True)
        progress = session_loaders.bus.wait_for(f"jetson/image/copy/{copy}")  # the site's event.send
        assert (progress["board"], progress["percent"]) == (board, 100.0)
        tags = wire.tags(f"jetson/switch/{board}/")
        assert tags.index(f"jetson/switch/{board}/clone") < tags.index(f"jetson/switch/{board}/lease") \
            < tags.index(f"jetson/switch/{board}/stop")
    assert manifest(template_path(farm)) == before
    assert farm.places()[TEMPLATE] == ["site01:store"]

    # The faulty board alone: rolled back once to its previous image (which does not boot either),
    # the user's image in its slot, quarantined; a later switch of it is refused.
    switch_id = reports[FAULTY]["switch_id"]
    assert reports[FAULTY]["error"] == (
        f"{FAULTY} did not come back on alice/many-{FAULTY} within 1s (switch {switch_id}); rolled back "
        f"to {default_image(FAULTY)}, which did not boot either; board quarantined")
    assert wire.data(f"jetson/switch/{FAULTY}/rollback") == [
        {"board": FAULTY, "image": default_image(FAULTY), "switch_id": f"{switch_id}-rollback"}]
    assert wire.data(f"jetson/board/{FAULTY}/failed")[0]["step"] == "verify"
    assert f"jetson/board/{FAULTY}/ready" not in wire.tags()
    assert farm.journal(FAULTY)["image"] == default_image(FAULTY) == farm.at_nfsroot(FAULTY)
    assert farm.marker_of(FAULTY)["switch_id"] == f"{switch_id}-rollback"
    assert farm.places()[f"alice/many-{FAULTY}"] == ["site01:store"] and farm.misplaced() == {}
    assert farm.sessions(FAULTY)[-1]["outcome"] == "failed"
    assert farm.quarantined(FAULTY) and not any(farm.quarantined(b) for b in up)
    refused = farm.run("switch", {FAULTY: "alice/cuda-dev"})[FAULTY]
    assert refused["error"].startswith(f"{FAULTY}: refused: board {FAULTY} is quarantined since")


def test_a_copy_that_exists_is_used_as_is_and_a_missing_template_fails_its_board_alone(farm):
    farm.modules("jtk2").jetson_rootfs.clone(TEMPLATE, "user2/l4t-base")
    wire = farm.wire()
    reports = farm.run("switch", {"jtk2": {"image": TEMPLATE, "user": "user2"},
                                  "jtk3": {"image": "admin/ghost", "user": "user3"}}, wire=wire)
    assert reports["jtk2"]["result"] is True, reports["jtk2"]
    assert wire.data("jetson/switch/jtk2/clone")[-1]["made"] is False
    assert reports["jtk3"]["error"].startswith("jtk3: refused: no working copy user3/ghost of the template "
                                               "admin/ghost"), reports["jtk3"]
    assert "image admin/ghost does not exist" in reports["jtk3"]["error"]
    assert [tag for tag in wire.tags("jetson/switch/jtk3/") if tag.split("/")[-1] in STEPS[1:]] == []
    assert farm.journal("jtk3")["image"] == default_image("jtk3")
    assert farm.grain("jtk3")["switch_id"] == "seed-jtk3"
