"""``jetson-lab up`` / ``status`` / ``down`` of a one-board lab, next to the session's lab."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import uuid

import pytest

from jetson_lab import network
from jetson_lab.config import LabConfig
from tests.lab_fixture import LAB_BASE, lab_session  # noqa: F401

BIN = pathlib.Path(sys.executable).parent


def jetson_lab(*args, timeout=400):
    return subprocess.run([str(BIN / "jetson-lab"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def processes_mentioning(text):
    """Pids of running processes whose command line contains ``text``."""
    pids = []
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if text.encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def small_lab():
    lab_dir = LAB_BASE / f"cli-{uuid.uuid4().hex[:6]}"
    yield lab_dir
    jetson_lab("down", "--dir", lab_dir, "--purge", timeout=180)


def test_up_status_down_leave_nothing_behind(small_lab, lab):
    up = jetson_lab("up", "--dir", small_lab, "--boards", 1)
    assert up.returncode == 0, up.stderr[-3000:]
    summary = json.loads(up.stdout)
    assert summary["boards"] == ["jtk1"] and summary["gaps"] == []
    config = LabConfig.read(small_lab)
    net = config.network
    # Two labs side by side: their own bridge, subnet and namespaces.
    assert net.bridge != lab.config.network.bridge
    assert net.bridge_addr != lab.address

    # A supervisor killed hard: the next up clears what it left and powers the board on again.
    supervisor_pid = int((small_lab / "pids" / "supervisor.pid").read_text().split()[0])
    os.kill(supervisor_pid, signal.SIGKILL)
    again = jetson_lab("up", "--dir", small_lab, "--boards", 1)
    assert again.returncode == 0, again.stderr[-3000:]
    minions = [pid for pid in processes_mentioning(f"{small_lab}/run/jtk1/etc/salt")
               if b"MultiMinionProcessManager" not in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(minions) == 1, minions

    status = jetson_lab("status", "--dir", small_lab, "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["daemons"] == {"master": True, "site01": True, "supervisor": True}
    [row] = data["boards"]
    assert (row["board"], row["power"], row["ping"], row["minion"], row["minion_up"]) == \
        ("jtk1", "on", True, "ready", True)
    table = jetson_lab("status", "--dir", small_lab)
    assert "jtk1     site01 on    " in table.stdout

    changed = jetson_lab("up", "--dir", small_lab, "--boards", 2)
    assert changed.returncode == 1
    assert ("is up with 1 boards and 0 VM boards; run jetson-lab down first to change it to 2 boards"
            in changed.stderr)

    down = jetson_lab("down", "--dir", small_lab)
    assert down.returncode == 0, down.stderr
    assert sorted(json.loads(down.stdout)["stopped"]) == ["master", "site01", "supervisor"]
    assert not network.link_exists(net.bridge)
    assert not network.link_exists(net.veth_host(1))
    assert not network.netns_exists(net.netns("jtk1"))
    assert processes_mentioning(str(small_lab)) == []
    # The other lab is untouched.
    assert lab.minion_answers("jtk1")

    again = jetson_lab("down", "--dir", small_lab)
    assert again.returncode == 0 and json.loads(again.stdout)["stopped"] == []


def test_status_of_a_lab_that_does_not_exist(tmp_path):
    result = jetson_lab("status", "--dir", tmp_path / "none")
    assert result.returncode == 1
    assert "jetson-lab status: no lab at" in result.stderr and "run jetson-lab up" in result.stderr
