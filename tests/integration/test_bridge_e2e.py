"""End to end: bookings in a real Radicale become two lab boards running the booked images.

The lab's real salt-master, site minion and boards (tests/lab_fixture.py); the bridge is the
installed ``calendar-bridge`` command in ``local`` mode reading the inventory through Salt; mail
goes to a real SMTP sink. Then the slots end and the next run gives the boards back. Neither
nightly run prints a warning or a traceback.
"""

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from calendar_bridge.writeback import read_status
from tests.bridge_events import booking_ics
from tests.caldav_servers import Radicale
from tests.integration.bridge_env import BRIDGE, local_bridge_config, run_sync
from tests.lab_fixture import lab  # noqa: F401  (the session's lab)
from tests.smtp_sink import SmtpSink
from tests.switch_helpers import noise

BOOKED = {"jtk1": ("alice", "cuda-dev", "alice/cuda-dev"), "jtk2": ("bob", "ros", "bob/ros")}


@pytest.fixture
def radicale(tmp_path):
    with Radicale(tmp_path / "radicale") as server:
        yield server


def test_two_bookings_tonight_end_as_two_running_boards(lab, radicale, tmp_path):  # noqa: F811
    with SmtpSink() as sink:
        config = local_bridge_config(tmp_path / "bridge.yaml", radicale, lab, sink, tmp_path)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        end = start + timedelta(hours=2)
        urls = {}
        for board, (user, image, _) in BOOKED.items():
            calendar = radicale.make_calendar(user, "boards")
            urls[board] = f"{calendar}{board}.ics"
            radicale.put(urls[board], booking_ics(f"tonight-{board}", start, end, summary=f"{board} {image}"),
                         user=user)
        try:
            code, run, stderr = run_sync(config)
            assert code == 0, stderr[-20000:] + json.dumps(run, indent=1)
            assert noise(stderr) == [], stderr[-5000:]
            assert sorted(run["plan"]["switch"]) == ["jtk1", "jtk2"] and len(run["jids"]) == 1
            assert {o["key"].split("|")[1]: o["status"] for o in run["outcomes"]} == {
                "tonight-jtk1": "ready", "tonight-jtk2": "ready"}
            status = lab.salt_run(["jetson.status"])
            assert status.returncode == 0, status
            for board, (user, _, ref) in BOOKED.items():
                assert (status.data[board]["state"], status.data[board]["image"]) == ("up", ref)
                text, _ = radicale.get(urls[board], user=user)
                assert read_status(text, f"tonight-{board}", "", UTC) == ("ready", "")
                [mail] = sink.to(f"{user}@example.org")
                assert f"ssh -J {user}@{lab.site} root@{board}" in mail["body"]
        finally:
            # The timer's run: no --json, its one-line summary on stdout.
            after = (end + timedelta(minutes=1)).isoformat()
            ended = subprocess.run([str(BRIDGE), "--config", str(config), "sync", "--now", after],
                                   capture_output=True, text=True, timeout=1200, check=False)
            for board in BOOKED:  # the lab's rule: give the boards back as they were found
                lab.restore(board)
        assert ended.returncode == 0, ended.stdout[-3000:] + ended.stderr[-20000:]
        assert noise(ended.stderr) == [], ended.stderr[-5000:]
        assert "switch 0, release 2; " in ended.stdout, ended.stdout
        status = lab.salt_run(["jetson.status"])
        for board in BOOKED:
            assert status.data[board]["image"] == lab.pillar["boards"][board]["image"]
