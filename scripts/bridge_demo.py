"""The nightly run, from calendar to running boards, on a running lab (``jetson-lab up``).

    .venv/bin/python scripts/bridge_demo.py --lab-dir /var/tmp/jetson-demo

Starts a local Radicale (loopback, real authentication) with four bookings for tonight:
alice ``jtk1 cuda-dev``, bob ``jtk2 ros``, bob ``jtk1 ros`` over alice's slot (a conflict)
and alice ``jtk9 cuda-dev`` (refused: no such board). Then runs ``calendar-bridge sync`` in
``local`` mode against the lab's master, shows what each event now says and
``salt-run jetson.status``, and a second run that has nothing to do.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from calendar_bridge.writeback import read_status  # noqa: E402
from tests.bridge_events import booking_ics  # noqa: E402
from tests.caldav_servers import Radicale  # noqa: E402

BIN = Path(sys.executable).parent
BOOKINGS = [  # user, uid, summary, created (the earlier booked keeps an overlapping slot)
    ("alice", "alice-tonight", "jtk1 cuda-dev", datetime(2026, 1, 1, tzinfo=UTC)),
    ("bob", "bob-tonight", "jtk2 ros", datetime(2026, 1, 2, tzinfo=UTC)),
    ("bob", "bob-overlap", "jtk1 ros", datetime(2026, 1, 3, tzinfo=UTC)),
    ("alice", "alice-typo", "jtk9 cuda-dev", datetime(2026, 1, 4, tzinfo=UTC)),
]


def run(argv, timeout=1800):
    print("$", " ".join(str(a) for a in argv), flush=True)
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False)
    print(proc.stdout + proc.stderr[-2000:], flush=True)
    return proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab-dir", required=True, help="the folder of a running jetson-lab")
    args = parser.parse_args()
    master_dir = Path(args.lab_dir) / "master"
    with tempfile.TemporaryDirectory(prefix="bridge-demo-") as tmp, Radicale(Path(tmp) / "dav") as dav:
        tmp = Path(tmp)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        calendars, events = {}, {}
        for user, uid, summary, created in BOOKINGS:
            if user not in calendars:
                calendars[user] = dav.make_calendar(user, "boards")
            url = f"{calendars[user]}{uid}.ics"
            end = start + timedelta(hours=2)
            dav.put(url, booking_ics(uid, start, end, summary=summary, created=created,
                                     description="booked for the demo"), user=user)
            events[uid] = (user, url)
            print(f"booked in {user}'s calendar: {summary!r} {start:%H:%M}-{end:%H:%M} UTC")
        (tmp / "caldav.secret").write_text(dav.passwords["bridge"])
        config = tmp / "bridge.yaml"
        config.write_text(yaml.safe_dump({
            "caldav": {"url": dav.url, "username": "bridge", "password_file": str(tmp / "caldav.secret")},
            "calendar_template": "{user}/boards/",
            "lead_time": "3h",
            "salt": {"mode": "local", "master_config": str(master_dir / "master")},
            "inventory": {"salt_minion": "site01"},
            "ledger": str(tmp / "ledger.sqlite"),
        }))
        bridge = [BIN / "calendar-bridge", "--config", config]
        run([*bridge, "list"])
        run([*bridge, "sync", "--dry-run"])
        first = run([*bridge, "sync"])
        print("what the events say now:")
        for uid, (user, url) in events.items():
            text, _ = dav.get(url, user=user)
            status, reason = read_status(text, uid, "", UTC)
            print(f"  {uid:14} X-JETSON-STATUS={status} {reason}")
        status = run([BIN / "salt-run", "-c", master_dir, "--out=json", "jetson.status"])
        try:
            table = json.loads(status.stdout)
            for board, row in sorted(table.items()):
                print(f"  {board}: {row['state']:11} {row['image']} (user {row['user']})")
        except (ValueError, AttributeError):
            pass
        run([*bridge, "sync"])  # the same night again: nothing to do
        return first.returncode


if __name__ == "__main__":
    sys.exit(main())
