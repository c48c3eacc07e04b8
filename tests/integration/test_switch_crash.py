"""``salt-run state.orch jetson.switch`` killed (SIGKILL, whole process group) at each step, then
run again: the second run takes over the orphaned lease, resumes the same switch, and converges
with every image in exactly one place."""

import pytest

from jetson_farm.runner.plan import STEPS
from tests.lab_fixture import lab  # noqa: F401
from tests.switch_helpers import (
    EventWatch,
    kill_run,
    marker,
    orchestrate,
    prepared,
    sessions,
    start_orchestrate,
    state_of,
    where_images,
)

BOARD = "jtk1"
# Alternate between two images so that each round is a real switch.
TARGETS = ("alice/cuda-dev", f"admin/l4t-base-{BOARD}")


@pytest.fixture(scope="module")
def rig(lab):  # noqa: F811
    prepared(lab)
    yield lab
    ret = orchestrate(lab, "jetson.release", {"board": BOARD})
    assert ret.returncode == 0, ret.stdout[-3000:]


@pytest.mark.parametrize("killed_in", STEPS[1:8])
def test_killed_in_a_step_then_run_again_converges(rig, killed_in):
    farm = rig
    image = TARGETS[STEPS.index(killed_in) % 2]
    before = where_images(farm)
    watch = EventWatch(farm)
    try:
        run = start_orchestrate(farm, "jetson.switch", {"board": BOARD, "image": image})
        # The step before ``killed_in`` has finished, so ``killed_in`` is under way: kill now.
        watch.wait_for(f"jetson/switch/{BOARD}/{STEPS[STEPS.index(killed_in) - 1]}")
        kill_run(run)
        again = orchestrate(farm, "jetson.switch", {"board": BOARD, "image": image})
        assert again.returncode == 0, again.stdout[-3000:]
        lease = [d for d in watch.data(f"jetson/switch/{BOARD}/lease") if d.get("result") == "ok"]
        assert lease[-1]["resumed"] is True
        assert lease[-1]["switch_id"] == lease[0]["switch_id"]
    finally:
        watch.close()
    state = state_of(farm, BOARD)
    assert state["image"] == image and state["operation"] is None
    assert marker(farm, BOARD)["switch_id"] == state["switch_id"]
    after = where_images(farm)
    assert sorted(after) == sorted(before)
    assert {i: w for i, w in after.items() if len(w) != 1} == {}
    row = sessions(farm, BOARD)[-1]
    assert (row["switch_id"], row["outcome"]) == (state["switch_id"], "active")
