"""The switch and release orchestrations against a lab of real board minions (tests/lab_fixture.py).

Each test leaves every board on its default image, up, with no fault, lease or quarantine. A busy
board's refusal and a release that parks run in seconds in the engine tier
(tests/functional/test_engine_switch.py); the busy refusal on the wire is also
tests/integration/test_switch_api.py's (two runs through a real salt-api).
"""

import json

import pytest

from jetson_farm.switch import STEPS
from tests.lab_fixture import lab  # noqa: F401
from tests.switch_helpers import (
    EventWatch,
    admin_salt_run,
    last_sessions,
    marker,
    markers,
    noise,
    orchestrate,
    places_of,
    sessions,
    site_job,
    state_and_images,
    states_of,
    step_tags,
    together,
)


@pytest.fixture
def farm(lab):  # noqa: F811
    watch = EventWatch(lab)
    yield lab, watch
    watch.close()


def default(board):
    return f"admin/l4t-base-{board}"


def assert_each_image_in_one_place(places):
    assert {image: where for image, where in places.items() if len(where) != 1} == {}


def release(rig, *boards):
    """Release ``boards``; each is back on its default image. Returns the site's ``{image: [places]}``."""
    ret = orchestrate(rig, "jetson.release", {"boards": list(boards)})
    assert ret.returncode == 0, ret.stdout[-3000:]
    return places_on_defaults(rig, *boards)


def places_on_defaults(rig, *boards):
    """The site's ``{image: [places]}``, each of ``boards`` checked to be on its default image
    (every journal and the image list in one site job)."""
    answer = site_job(rig, rig.site, ("jetson_rootfs.state",), ("jetson_rootfs.list",))
    journals, listing = answer["jetson_rootfs.state"], answer["jetson_rootfs.list"]
    assert isinstance(journals, dict) and isinstance(listing, list), answer
    for board in boards:
        assert (journals.get(board) or {}).get("image") == default(board), f"{board}: {journals.get(board)}"
    return places_of(listing)


def test_one_board_switch_then_release(farm):
    """Also: the switch, status and release an admin types print no warning or traceback."""
    rig, watch = farm
    ret = admin_salt_run(rig, "state.orch", "jetson.switch",
                         "pillar=" + json.dumps({"board": "jtk1", "image": "alice/cuda-dev"}))
    assert ret.returncode == 0, ret.stdout[-3000:] + ret.stderr[-3000:]
    assert noise(ret.stderr) == [], ret.stderr[-5000:]
    shown = admin_salt_run(rig, "jetson.status")
    assert shown.returncode == 0 and "alice/cuda-dev" in shown.stdout, shown.stdout[-3000:]
    assert noise(shown.stderr) == [], shown.stderr[-5000:]

    # The site, the board, and the master's runner asked side by side.
    (state, places), grain, rows, status = together(
        lambda: state_and_images(rig, "jtk1"), lambda: marker(rig, "jtk1"), lambda: sessions(rig, "jtk1"),
        lambda: rig.salt_run(["jetson.status"]).data["jtk1"])
    assert (state["image"], state["user"]) == ("alice/cuda-dev", "alice")
    assert grain == {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice",
                     "switch_id": state["switch_id"]}
    assert places["alice/cuda-dev"] == ["jtk1"]
    assert places[default("jtk1")] == ["store"]

    row = rows[-1]
    assert (row["user"], row["image"], row["outcome"], row["switch_id"]) == (
        "alice", "alice/cuda-dev", "active", state["switch_id"])
    assert row["jid"] and row["started"] <= row["ready"]

    watch.wait_for("jetson/board/jtk1/ready")
    assert [t for t in watch.tags("jetson/switch/jtk1/")] == step_tags("jtk1")
    ready = watch.data("jetson/board/jtk1/ready")[-1]
    assert ready["ssh"] == f"ssh -J alice@{rig.address} root@{rig.ip('jtk1')}"
    assert all(data["result"] == "ok" for tag, data in watch.events if tag.startswith("jetson/switch/jtk1/"))

    assert (status["image"], status["owner"], status["user"], status["state"]) == (
        "alice/cuda-dev", "alice", "alice", "up")
    assert status["session"]["switch_id"] == state["switch_id"]

    released = admin_salt_run(rig, "state.orch", "jetson.release", "pillar=" + json.dumps({"board": "jtk1"}))
    assert released.returncode == 0, released.stdout[-3000:] + released.stderr[-3000:]
    assert noise(released.stderr) == [], released.stderr[-5000:]
    places = places_on_defaults(rig, "jtk1")
    assert places["alice/cuda-dev"] == ["store"]
    grain, rows = together(lambda: marker(rig, "jtk1"), lambda: sessions(rig, "jtk1"))
    assert grain["image"] == default("jtk1")
    assert (rows[-2]["switch_id"], rows[-2]["outcome"]) == (state["switch_id"], "ended")
    assert (rows[-1]["image"], rows[-1]["outcome"]) == (default("jtk1"), "active")
    assert_each_image_in_one_place(places)


def test_three_boards_switch_in_one_run_side_by_side(farm):
    rig, watch = farm
    # admin/l4t-base is shared (a template): alice boots her own working copy of it.
    wanted = {"jtk1": ("alice/cuda-dev", "alice"), "jtk2": ("bob/ros", "bob"),
              "jtk3": ("alice/l4t-base", "alice")}
    pillar = {"boards": {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros",
                         "jtk3": {"image": "admin/l4t-base", "user": "alice"}}}
    ret = orchestrate(rig, "jetson.switch", pillar)
    assert ret.returncode == 0, ret.stdout[-3000:]
    boards = list(wanted)
    journals, seen, last = together(lambda: states_of(rig, boards), lambda: markers(rig, boards),
                                    lambda: last_sessions(rig, boards))
    for board, (image, user) in wanted.items():
        journal = journals[board] or {}
        assert (journal.get("image"), journal.get("user")) == (image, user), f"{board}'s journal: {journal}"
        assert (seen[board] or {}).get("image") == image, f"{board}'s marker: {seen[board]}"
        assert (last[board] or {}).get("outcome") == "active", f"{board}'s last session: {last[board]}"
        watch.wait_for(f"jetson/board/{board}/ready")
    # Side by side: every board had its lease before any board reached its record step.
    tags = watch.tags("jetson/switch/")
    last_lease = max(tags.index(f"jetson/switch/{b}/lease") for b in wanted)
    first_record = min(tags.index(f"jetson/switch/{b}/record") for b in wanted)
    assert last_lease < first_record
    assert_each_image_in_one_place(release(rig, *wanted))
    site_job(rig, rig.site, ("jetson_rootfs.remove", "alice/l4t-base"))  # as the lab was


def test_steps_are_numbered_in_the_events(farm):
    rig, watch = farm
    ret = orchestrate(rig, "jetson.release", {"board": "jtk1"})
    assert ret.returncode == 0, ret.stdout[-3000:]
    watch.wait_for(f"jetson/switch/jtk1/{STEPS[-1]}")
    numbers = [data["number"] for tag, data in watch.events if tag.startswith("jetson/switch/jtk1/")]
    assert numbers == list(range(len(STEPS)))
