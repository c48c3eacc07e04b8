"""A switch run killed in each step, then run again (tests/engine_wire.py): the second run takes
over the dead run's lease, resumes the same switch, skips what was done, and converges with every
image in exactly one place. The kill comes once the step's job is published: the site finishes
it alone, as after a real ``kill -9`` of ``salt-run``. Step 7 is killed at its first marker
question, while the engine waits for the board's boot."""

import pytest

from jetson_farm.switch import STEPS
from tests.engine_wire import (  # noqa: F401 (fixtures)
    EngineFarm,
    default_image,
    farm_folder,
    module_folder,
    prompt_at_once,
)

KILLED_AT = {"stop": "jetson_power.stop_many", "down": "jetson_power.ensure_down_many",
             "unexport": "jetson_nfs.unexport_many", "swap": "jetson_rootfs.swap_many",
             "export": "jetson_nfs.export_many", "start": "jetson_power.start_many",
             "verify": "grains.get"}


@pytest.fixture
def farm(session_loaders, farm_folder):  # noqa: F811
    farm = EngineFarm(farm_folder, {"site01": session_loaders}, {"site01": ["jtk1"]})
    yield farm
    farm.close()
    session_loaders.reset_state()


@pytest.mark.parametrize("step", STEPS[1:8])
def test_killed_in_a_step_then_run_again_converges(farm, step):
    killed = farm.killed_run("switch", {"jtk1": "alice/cuda-dev"}, KILLED_AT[step])
    switch_id = killed.data("jetson/switch/jtk1/lease")[0]["switch_id"]
    assert f"jetson/switch/jtk1/{step}" not in killed.tags(), "killed too late"
    assert farm.sessions("jtk1")[-1]["outcome"] == "switching"
    assert farm.lease("jtk1")["switch_id"] == switch_id
    assert farm.misplaced() == {}  # rule 1 holds at the kill too

    wire = farm.wire()
    report = farm.run("switch", {"jtk1": "alice/cuda-dev"}, wire=wire)["jtk1"]
    assert report["result"] is True, report
    lease = wire.data("jetson/switch/jtk1/lease")[0]
    assert (lease["resumed"], lease["switch_id"]) == (True, switch_id)
    skipped = [s for s in STEPS[1:8] if wire.data(f"jetson/switch/jtk1/{s}")[0]["result"] == "skipped"]
    assert skipped == list(STEPS[1:STEPS.index(step)])
    journal = farm.journal("jtk1")
    assert (journal["image"], journal["switch_id"], journal["operation"]) == (
        "alice/cuda-dev", switch_id, None)
    assert farm.at_nfsroot("jtk1") == "alice/cuda-dev" and farm.exported("jtk1")
    assert farm.grain("jtk1")["switch_id"] == switch_id
    assert farm.places()[default_image("jtk1")] == ["site01:store"] and farm.misplaced() == {}
    rows = farm.sessions("jtk1")
    assert [(r["switch_id"], r["outcome"]) for r in rows[-1:]] == [(switch_id, "active")]
    assert farm.lease("jtk1") is None


def test_a_different_switch_takes_over_a_dead_runs_lease(farm):
    """A run asking something else is no resume: the interrupted session is closed as such."""
    killed = farm.killed_run("switch", {"jtk1": "alice/cuda-dev"}, KILLED_AT["swap"])
    first = killed.data("jetson/switch/jtk1/lease")[0]["switch_id"]
    report = farm.run("switch", {"jtk1": "bob/ros"})["jtk1"]
    assert report["result"] is True and report["switch_id"] != first, report
    outcomes = {r["switch_id"]: r["outcome"] for r in farm.sessions("jtk1")}
    assert (outcomes[first], outcomes[report["switch_id"]]) == ("interrupted", "active")
    assert farm.at_nfsroot("jtk1") == "bob/ros"
    assert farm.places()["alice/cuda-dev"] == ["site01:store"] and farm.misplaced() == {}
