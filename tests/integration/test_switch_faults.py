"""Boards that misbehave during a switch (lab faults), and a malformed request, on the lab's wire.

Each step's failure, rollback and quarantine run in seconds in the engine tier
(tests/functional/test_engine_switch.py, test_engine_many.py); the lab keeps what only real
minions show:
- a board whose power driver cannot tell (``salt``) is down only once its minion has
  disconnected from the master and it answers no ping; a missed ping alone touches nothing.
"""

import subprocess

import pytest

from tests.lab_fixture import lab  # noqa: F401
from tests.switch_helpers import EventWatch, orchestrate, state_of, where_images


@pytest.fixture
def rig(lab):  # noqa: F811
    watch = EventWatch(lab)
    saved = lab.pillar
    yield lab, watch
    watch.close()
    lab.write_pillar(saved)


def exported(farm, board):
    result = farm.salt_call_site(["jetson_nfs.is_exported", board])
    assert result.returncode == 0, result
    return result.data


def test_a_malformed_request_changes_nothing(rig):
    farm, _ = rig
    before = state_of(farm, "jtk1")
    ret = orchestrate(farm, "jetson.switch", {"boards": "jtk1"})
    assert ret.returncode != 0
    assert ("bad jetson.switch request, nothing was changed: 'boards' must be a non-empty mapping"
            in ret.stdout)
    assert state_of(farm, "jtk1")["switch_id"] == before["switch_id"]
    assert farm.salt_run(["jetson.lease"]).data in ({}, None)


def blind(farm, board, **settings):
    """Give ``board`` the power driver ``salt`` (it cannot tell the board's power) in the pillar."""
    pillar = farm.pillar
    pillar["boards"][board]["power"] = {"driver": "salt"}
    pillar["boards"][board].update(settings)
    farm.write_pillar(pillar)


def test_a_board_whose_driver_cannot_tell_is_down_once_its_minion_disconnected(rig):
    farm, watch = rig
    blind(farm, "jtk3")
    ret = orchestrate(farm, "jetson.switch", {"board": "jtk3", "image": "alice/cuda-dev"})
    assert ret.returncode == 0, ret.stdout[-3000:]
    down = watch.data("jetson/switch/jtk3/down")[-1]
    # The board's own system.reboot: its minion went away, and its pings.
    assert down["result"] == "ok" and down["seen"] == "no ping", down
    assert 0 <= down["disconnected_after"] <= down["seconds"], down
    assert state_of(farm, "jtk3")["image"] == "alice/cuda-dev"
    released = orchestrate(farm, "jetson.release", {"board": "jtk3"})
    assert released.returncode == 0, released.stdout[-3000:]
    assert state_of(farm, "jtk3")["image"] == "admin/l4t-base-jtk3"


def test_a_blind_board_that_misses_pings_but_keeps_its_minion_connected_is_left_alone(rig):
    """A missed ping alone (here the board ignores echo requests and its reboot) never takes a
    board whose driver cannot tell for down: its nfsroot stays exported and in place."""
    farm, watch = rig
    blind(farm, "jtk3", down_timeout=3)
    before = state_of(farm, "jtk3")
    netns = farm.config.network.netns("jtk3")
    ignore_echo = ["ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all={}"]
    farm.fault("jtk3", "ignore_reboot")
    subprocess.run([a.format(1) for a in ignore_echo], check=True, timeout=10)
    try:
        assert not farm.pings("jtk3")
        ret = orchestrate(farm, "jetson.switch", {"board": "jtk3", "image": "alice/cuda-dev"})
        assert ret.returncode != 0
        assert ("jtk3: step down failed: board jtk3 (power driver salt, which cannot tell its power) "
                "answers no ping but its minion is still connected to the master after 3s: not taken "
                "for down, its nfsroot was not touched" in ret.stdout), ret.stdout[-3000:]
        assert watch.wait_for("jetson/board/jtk3/failed")["step"] == "down"
        after = state_of(farm, "jtk3")
        assert (after["image"], after["switch_id"], after["operation"]) == (
            before["image"], before["switch_id"], None)
        assert exported(farm, "jtk3") is True
        assert where_images(farm)["alice/cuda-dev"] == ["store"]
        assert farm.minion_answers("jtk3")
    finally:
        subprocess.run([a.format(0) for a in ignore_echo], check=True, timeout=10)
        farm.fault("jtk3", "clear")
