"""The Salt gateway's reading of answers, and its errors when Salt cannot be reached."""

import pytest

from calendar_bridge.errors import SaltError
from calendar_bridge.salt_gateway import ApiSalt, LocalSalt, _board_rows, board_errors, boards_verified
from tests.caldav_servers import free_port


def test_board_errors_come_from_the_failed_steps():
    orch = {"data": {"master": {
        "salt_|-jetson-jtk1-2-down_|-jetson.step_|-runner": {
            "result": False, "changes": {"return": {"board": "jtk1", "step": "down", "result": False,
                                                    "error": "jtk1: step down failed: still up"}}},
        "salt_|-jetson-jtk1-3-unexport_|-jetson.step_|-runner": {
            "result": False, "comment": "One or more requisite failed"},
        "salt_|-jetson-jtk2-0-lease_|-jetson.step_|-runner": {
            "result": True, "changes": {"return": {"board": "jtk2", "lease": "taken"}}}}}}
    assert board_errors(orch) == {"jtk1": "jtk1: step down failed: still up"}


def test_verified_boards_are_those_the_engine_saw_up_on_their_marker():
    orch = {"data": {"master": {"jetson_boards_|-switch_|-switch_|-switched": {"changes": {"boards": [
        {"board": "jvm1", "result": True, "switch_id": "jvm1-1", "image": "alice/red"},
        {"board": "jvm2", "result": False, "switch_id": "jvm2-1", "error": "did not come up"},
        {"board": "jvm3", "result": True, "switch_id": None, "image": None}]}}}}}
    assert boards_verified(orch) == {"jvm1"}
    assert board_errors(orch) == {"jvm2": "did not come up"}


def test_status_answer_is_checked():
    assert _board_rows({"jtk1": {"state": "up"}}) == {"jtk1": {"state": "up"}}
    with pytest.raises(SaltError, match=r"jetson\.status failed: invalid jetson inventory"):
        _board_rows({"result": False, "error": "invalid jetson inventory: x", "retcode": 1})
    with pytest.raises(SaltError, match=r"jetson\.status gave no board table"):
        _board_rows("Exception occurred in runner jetson.status")


def test_unreachable_salt_api_and_missing_master_config(tmp_path):
    with pytest.raises(SaltError, match=r"salt-api http://127\.0\.0\.1:\d+: cannot log in"):
        ApiSalt(f"http://127.0.0.1:{free_port()}", "bridge", "pw", "pam", timeout=5).status()
    with pytest.raises(SaltError, match=r"salt-run jetson\.status"):
        LocalSalt(str(tmp_path / "no-such-master"), timeout=5).status()
