"""Runner ``jetson`` on the session master: check, flash_command, quarantine, leases, history,
and the orchestration's refusals of bad input (nothing changed). Enrolment: test_enroll.py."""

import json
import pathlib
import subprocess

import pytest

from tests.conftest import make_pillar
from tests.integration.site_env import site_farm  # noqa: F401 (fixture)
from tests.inventory_cases import BROKEN_IPMI_PROBLEMS, broken_ipmi_pillar


def run(master, fun, *args, **kwargs):
    return master.salt_run_cli(timeout=300).run(fun, *args, **kwargs)


def test_check_passes_a_good_pillar(runners, farm):
    ret = run(runners, "jetson.check")
    assert ret.returncode == 0, ret
    assert ret.data["result"] is True
    assert ret.data["boards"] == ["jtk1", "jtk2"]


def test_check_reports_the_exports_the_pillar_does_not_know(runners, site_farm):  # noqa: F811
    farm = site_farm
    leftover = farm.dir / "NFSRoot9"
    leftover.mkdir()
    exports_file = pathlib.Path(farm.pillar["sites"]["site01"]["nfs"]["exports_file"])
    # What a refused retirement of jtk9 leaves: its line in the farm's file, and live.
    exports_file.write_text(f"{leftover} 127.0.19.1(rw,fsid=4247)  # board jtk9\n")
    subprocess.run(["exportfs", "-o", "rw,fsid=4247", f"127.0.19.1:{leftover}"], timeout=30, check=True)
    ret = run(runners, "jetson.check")
    assert ret.returncode == 1, ret
    (listed,) = [e for e in ret.data["exports"]["site01"] if e["path"] == str(leftover)]
    assert (listed["board"], listed["known"], listed["configured"]) == ("jtk9", False, True)
    assert any(p.startswith(f"site01: site01's NFS server exports {leftover} to 127.0.19.1 for board jtk9")
               for p in ret.data["exports"]["problems"])


def test_check_names_every_broken_rule(runners, farm):
    farm.pillar["boards"]["jtk2"]["ip"] = "not-an-ip"
    farm.pillar["boards"]["jtk1"]["power"] = {"driver": "telepathy"}
    farm.apply_pillar()
    ret = run(runners, "jetson.check")
    assert ret.returncode == 1, ret
    problems = ret.data["problems"]
    assert "boards.jtk2.ip: 'not-an-ip' is not an IPv4 address" in problems
    assert any(p.startswith("boards.jtk1.power.driver: 'telepathy' is not one of") for p in problems)


def test_check_names_a_broken_power_setting_and_every_typo(runners, farm):
    # Issue 9: this inventory passed the check, and the switch then failed after taking the lease.
    farm.pillar = broken_ipmi_pillar(farm.dir)
    farm.apply_pillar()
    ret = run(runners, "jetson.check")
    assert ret.returncode != 0, ret
    assert ret.data["result"] is False
    for problem in BROKEN_IPMI_PROBLEMS:
        assert problem in ret.data["problems"]
    assert "Traceback" not in ret.stdout + ret.stderr
    assert "pydantic" not in ret.stdout + ret.stderr


def test_flash_command_from_the_pillar(runners, farm):
    farm.pillar["sites"]["site01"]["address"] = "192.168.137.130"
    farm.apply_pillar()
    ret = run(runners, "jetson.flash_command", "board=jtk1")
    assert ret.returncode == 0, ret
    assert ret.stdout.strip().strip('"') == (f"sudo ./flash.sh -N 192.168.137.130:{farm.dir}/NFSRoot1 -n "
                        "127.0.11.1:192.168.137.130:192.168.137.1:255.255.255.0 jetson-tk1 eth0")


def test_flash_command_of_an_unknown_board_fails(runners, farm):
    ret = run(runners, "jetson.flash_command", "board=jtk9")
    assert ret.returncode == 1, ret
    assert "unknown board 'jtk9'" in ret.stdout


def test_quarantine_is_listed_then_lifted(runners, farm):
    ret = run(runners, "jetson.quarantine", "board=jtk2", "reason=flaky ethernet")
    assert ret.returncode == 0, ret
    assert ret.data["reason"] == "flaky ethernet"
    try:
        switch = run(runners, "state.orch", "jetson.switch",
                     pillar=json.dumps({"board": "jtk2", "image": "admin/l4t-base"}))
        assert switch.returncode != 0
        assert "board jtk2 is quarantined since" in switch.stdout
        assert "flaky ethernet" in switch.stdout
    finally:
        ret = run(runners, "jetson.unquarantine", "board=jtk2")
    assert ret.returncode == 0, ret
    again = run(runners, "jetson.unquarantine", "board=jtk2")
    assert again.returncode == 1
    assert "board jtk2 is not quarantined" in again.stdout


@pytest.mark.parametrize(("pillar", "message"), [
    ({"board": "jtk9", "image": "alice/cuda-dev"}, "unknown board 'jtk9'"),
    ({"board": "jtk1", "image": "alice/nothing-here"}, "image alice/nothing-here does not exist"),
    ({"board": "jtk1", "image": "bob/ros", "user": "alice"}, "user 'alice' may not boot 'bob/ros'"),
    ({"board": "jtk1"}, "bad jetson.switch request, nothing was changed: the request: no image given"),
    ({"boards": {"jtk1": 7}}, "boards.jtk1: expected an image 'user/name' or a mapping"),
])
def test_bad_input_is_refused_with_nothing_changed(runners, farm, pillar, message):
    def placement():  # asked of the site's minion daemon: no salt-call process compiling its pillar
        state = farm.salt("jetson_rootfs.state", "jtk1").data
        assert isinstance(state, dict), f"jtk1's journal: {state!r}"
        return state["image"], state["switch_id"], state["operation"]

    before = placement()
    ret = run(runners, "state.orch", "jetson.switch", pillar=json.dumps(pillar))
    assert ret.returncode != 0, ret
    assert message in ret.stdout
    assert placement() == before
    leases = run(runners, "jetson.lease")
    assert "jtk1" not in (leases.data or {})


def test_sessions_and_leases_answer_when_empty(runners, farm):
    assert run(runners, "jetson.sessions", "board=nobody").data == []
    bad = run(runners, "jetson.sessions", "since=yesterday")
    assert bad.returncode == 1
    assert "since='yesterday' is not an ISO date" in bad.stdout


def test_the_farm_pillar_is_the_one_from_make_pillar(farm):
    assert farm.pillar == make_pillar(farm.dir)


def test_switch_and_release_fronts_refuse_an_unknown_board(runners, farm):
    ret = run(runners, "jetson.switch", "board=jtk9", "image=alice/cuda-dev")
    assert ret.returncode == 1
    assert "unknown board 'jtk9'" in ret.stdout
    ret = run(runners, "jetson.release", "board=jtk9")
    assert ret.returncode == 1
    assert "unknown board 'jtk9'" in ret.stdout
    missing = run(runners, "jetson.switch", "board=jtk1")
    assert missing.returncode != 0
    assert "image= is required" in missing.stdout + missing.stderr


def test_reconcile_runs_every_site_and_repairs_records(runners, farm):
    ret = run(runners, "jetson.reconcile")
    assert ret.returncode == 0, ret
    assert set(ret.data["sites"]) == {"site01"}
    assert isinstance(ret.data["records"], list) and ret.data["records"]
