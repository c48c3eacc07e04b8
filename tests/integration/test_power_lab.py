"""jetson_power with the lab driver on the lab's site minion: real lab boards (salt-minions in netns).

Each test gives its board back powered on with its minion up (``lab.restore``).
"""

import pytest

from tests.lab_fixture import lab  # noqa: F401

BOARD = "jtk3"


@pytest.fixture
def board(lab):  # noqa: F811
    lab.wait_up(BOARD)
    yield BOARD
    lab.restore(BOARD)


def site(lab, *args):  # noqa: F811
    return lab.salt_call_site(list(args))


def test_status_off_on_follow_the_lab_board(lab, board):  # noqa: F811
    ret = site(lab, "jetson_power.status", board)
    assert ret.returncode == 0, ret
    assert ret.data == {"board": board, "driver": "lab", "action": "status", "did": "status", "power": "on"}
    ret = site(lab, "jetson_power.off", board)
    assert ret.returncode == 0 and ret.data["power"] == "off", ret
    assert lab.status(board)["power"] == "off"
    lab.wait_for(lambda: not lab.pings(board), f"{board} to stop answering ping")
    ret = site(lab, "jetson_power.on", board)
    assert ret.returncode == 0 and ret.data["power"] == "on", ret
    lab.wait_up(board)


def test_ensure_down_powers_off_a_board_that_stays_up(lab, board):  # noqa: F811
    assert lab.pings(board)
    ret = site(lab, "jetson_power.ensure_down", board, "timeout=3", "off_timeout=20")
    # The escalation is ours: the board was still up after 3s, so its power was cut.
    assert lab.status(board)["power"] == "off"
    assert not lab.pings(board) and lab.nfs_sessions(board) == []
    assert ret.returncode == 0, ret
    assert ret.data["escalated"] is True and ret.data["did"] == "off" and ret.data["powered_off"] is True


def test_ensure_down_of_a_stuck_board_fails_naming_what_held(lab, board):  # noqa: F811
    lab.fault(board, "stuck_on")
    ret = site(lab, "jetson_power.ensure_down", board, "timeout=3")
    assert ret.returncode != 0
    text = f"{ret.data} {ret.stdout} {ret.stderr}"
    assert f"board {board}, power driver lab: the board is still up 3s after a hard off" in text, ret
    assert lab.status(board)["power"] == "on"


def test_reboot_of_a_lab_board_cuts_its_power(lab, board):  # noqa: F811
    ret = site(lab, "jetson_power.reboot", board)
    assert ret.returncode == 0, ret
    assert ret.data["did"] == "off" and lab.status(board)["power"] == "off"


def test_an_unreachable_supervisor_is_a_clear_error(lab, board):  # noqa: F811
    original, pillar = lab.pillar, lab.pillar
    pillar["boards"][board]["power"] = {"driver": "lab", "socket": "/nonexistent/supervisor.sock"}
    lab.write_pillar(pillar)
    try:
        ret = site(lab, "jetson_power.status", board)
    finally:
        lab.write_pillar(original)
    assert ret.returncode != 0
    assert (f"board {board}, power driver lab: status failed: no lab supervisor at "
            "/nonexistent/supervisor.sock" in f"{ret.data} {ret.stdout} {ret.stderr}"), ret
