"""``salt-run state.orch jetson.switch`` killed (SIGKILL, whole process group) in a step, then
run again: the second run takes over the orphaned lease, resumes the same switch, and converges
with every image in exactly one place.

The engine runs every step in the ``salt-run`` process itself, so it is killed while it waits
for the step's site job: the moment the master publishes that job (``salt/job/<jid>/new``).
The site finishes the job alone, as it would after a real crash. The lab kills one real
``salt-run`` in the swap, the step that moves images; a kill in each of steps 1-7 runs in
seconds in the engine tier (tests/functional/test_engine_resume.py).
"""

import pytest

from jetson_farm.switch import STEPS
from tests.lab_fixture import lab  # noqa: F401
from tests.switch_helpers import (
    EventWatch,
    kill_run,
    marker,
    orchestrate,
    sessions,
    start_orchestrate,
    state_and_images,
    where_images,
)

BOARD = "jtk1"
# Alternate between two images so that each round is a real switch.
TARGETS = ("alice/cuda-dev", f"admin/l4t-base-{BOARD}")
# The site job each step waits for (the lab's boards have the ``lab`` power driver).
STEP_JOBS = {"stop": "jetson_power.stop_many", "down": "jetson_power.ensure_down_many",
             "unexport": "jetson_nfs.unexport_many", "swap": "jetson_rootfs.swap_many",
             "export": "jetson_nfs.export_many", "start": "jetson_power.start_many"}


@pytest.fixture(scope="module")
def rig(lab):  # noqa: F811
    yield lab
    ret = orchestrate(lab, "jetson.release", {"board": BOARD})
    assert ret.returncode == 0, ret.stdout[-3000:]


@pytest.mark.parametrize("killed_in", ["swap"])
def test_killed_in_a_step_then_run_again_converges(rig, killed_in):
    farm = rig
    image = TARGETS[STEPS.index(killed_in) % 2]
    before = where_images(farm)
    watch = EventWatch(farm, prefixes=("jetson/", "salt/job/"))
    try:
        run = start_orchestrate(farm, "jetson.switch", {"board": BOARD, "image": image})
        if killed_in in STEP_JOBS:
            watch.wait_for_job(STEP_JOBS[killed_in])
        else:
            watch.wait_for(f"jetson/switch/{BOARD}/{STEPS[STEPS.index(killed_in) - 1]}")
        kill_run(run)
        assert f"jetson/switch/{BOARD}/{killed_in}" not in watch.tags(), "killed too late"
        again = orchestrate(farm, "jetson.switch", {"board": BOARD, "image": image})
        assert again.returncode == 0, again.stdout[-3000:]
        lease = [d for d in watch.data(f"jetson/switch/{BOARD}/lease") if d.get("result") == "ok"]
        assert lease[-1]["resumed"] is True
        assert lease[-1]["switch_id"] == lease[0]["switch_id"]
    finally:
        watch.close()
    state, after = state_and_images(farm, BOARD)
    assert state["image"] == image and state["operation"] is None
    assert marker(farm, BOARD)["switch_id"] == state["switch_id"]
    assert sorted(after) == sorted(before)
    assert {i: w for i, w in after.items() if len(w) != 1} == {}
    row = sessions(farm, BOARD)[-1]
    assert (row["switch_id"], row["outcome"]) == (state["switch_id"], "active")
