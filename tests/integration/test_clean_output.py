"""A normal switch, status and nightly bridge run print no Python warning and no traceback.

Only the public commands an admin or the timer runs, against the session's lab
(tests/lab_fixture.py): ``salt-run state.orch jetson.switch`` / ``jetson.release`` with Salt's
default log level and outputter, ``salt-run jetson.status``, and ``calendar-bridge sync`` in
``local`` mode (Salt in its own process). Salt 3008.3's own finalizer warnings are hidden on
purpose (jetson_farm/salt_noise.py); anything else on stderr is a bug of ours or a new one of
Salt's that needs its trigger found. Each test leaves its board on its default image.
"""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.bridge_events import booking_ics
from tests.caldav_servers import Radicale
from tests.lab_fixture import lab_session  # noqa: F401  (the session's lab)

BIN = Path(sys.executable).parent
NOISE = ("Traceback", "unclosed", "Warning", "WARNING")


def noise(stderr):
    """The lines of ``stderr`` that hold a traceback, a leak or a warning."""
    return [line for line in stderr.splitlines() if any(word in line for word in NOISE)]


def run(argv, timeout=900):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False)
    return proc


def salt_run(lab, *args):
    """``salt-run -c <lab master> ARGS`` exactly as an admin types it: default outputter and log level."""
    return run([BIN / "salt-run", "-c", lab.master_dir, *args])


def default(lab, board):
    return lab.pillar["boards"][board]["image"]


def test_switch_status_and_release_print_nothing_on_stderr(lab):
    board, image = "jtk2", "bob/ros"
    try:
        switched = salt_run(lab, "state.orch", "jetson.switch",
                            "pillar=" + json.dumps({"board": board, "image": image}))
        assert switched.returncode == 0, switched.stdout[-3000:] + switched.stderr[-3000:]
        assert noise(switched.stderr) == [], switched.stderr[-5000:]

        status = salt_run(lab, "jetson.status")
        assert status.returncode == 0, status.stderr[-3000:]
        assert noise(status.stderr) == [], status.stderr[-5000:]
        assert image in status.stdout

        as_json = lab.salt_run(["jetson.status"])
        assert (as_json.data[board]["state"], as_json.data[board]["image"]) == ("up", image)
    finally:
        released = salt_run(lab, "state.orch", "jetson.release", "pillar=" + json.dumps({"board": board}))
    assert released.returncode == 0, released.stdout[-3000:] + released.stderr[-3000:]
    assert noise(released.stderr) == [], released.stderr[-5000:]
    assert lab.salt_run(["jetson.status"]).data[board]["image"] == default(lab, board)


@pytest.fixture
def radicale(tmp_path):
    with Radicale(tmp_path / "radicale") as server:
        yield server


def sync(config, *args):
    proc = run([BIN / "calendar-bridge", "--config", config, "sync", *args], timeout=1200)
    return proc


def test_a_nightly_bridge_run_prints_nothing_on_stderr(lab, radicale, tmp_path):
    board, user, image = "jtk3", "alice", "cuda-dev"
    secret = tmp_path / "caldav.secret"
    secret.write_text(radicale.passwords["bridge"])
    config = tmp_path / "bridge.yaml"
    config.write_text(yaml.safe_dump({
        "caldav": {"url": radicale.url, "username": "bridge", "password_file": str(secret)},
        "calendar_template": "{user}/boards/",
        "lead_time": "3h",
        "salt": {"mode": "local", "master_config": str(lab.master_dir / "master"), "timeout": 900},
        "inventory": {"salt_minion": lab.site},
        "ledger": str(tmp_path / "ledger.sqlite"),
    }))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    end = start + timedelta(hours=1)
    calendar = radicale.make_calendar(user, "boards")
    event = booking_ics(f"clean-{board}", start, end, summary=f"{board} {image}")
    radicale.put(f"{calendar}{board}.ics", event, user=user)
    try:
        booked = sync(config)
        assert booked.returncode == 0, booked.stdout[-3000:] + booked.stderr[-5000:]
        assert "ready 1" in booked.stdout, booked.stdout
        assert noise(booked.stderr) == [], booked.stderr[-5000:]
    finally:
        ended = sync(config, "--now", (end + timedelta(minutes=1)).isoformat())
        lab.restore(board)
    assert ended.returncode == 0, ended.stdout[-3000:] + ended.stderr[-5000:]
    assert "release 1" in ended.stdout, ended.stdout
    assert noise(ended.stderr) == [], ended.stderr[-5000:]
    assert lab.salt_run(["jetson.status"]).data[board]["image"] == default(lab, board)
