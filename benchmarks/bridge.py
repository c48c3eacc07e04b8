"""Benchmark of the calendar bridge: a year of bookings on 30 boards (10,000 events) in Radicale.

Times a nightly ``sync`` that acts on one day, then a second ``sync`` the same night that has
nothing to do (and must start no orchestration). Salt is the recorded stand-in of the
integration tests: the figures are the bridge's own (CalDAV query, parsing, decision, ledger,
write-back). Targets: first run under 10 s, second under 3 s.

    .venv/bin/python benchmarks/bridge.py [--events 10000]
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calendar_bridge.caldav_door import CalendarStore
from calendar_bridge.config import build
from calendar_bridge.ledger import Ledger
from calendar_bridge.mail import Mailer
from calendar_bridge.reader import load_inventory
from calendar_bridge.sync import Bridge
from tests.caldav_servers import Radicale
from tests.conftest import make_pillar
from tests.integration.bridge_env import RecordedFarm

PARIS = ZoneInfo("Europe/Paris")
BOARDS = [f"jtk{i}" for i in range(1, 31)]
USERS = ["alice", "bob"]
YEAR_START = datetime(2026, 1, 1, 9, 0, tzinfo=PARIS)


def year_of_bookings(count):
    """One VCALENDAR with ``count`` bookings: every board, every day, 09:00-18:00 Paris."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//jetson-farm benchmark//EN")
    calendar.add("VERSION", "2.0")
    for n in range(count):
        day, board = divmod(n, len(BOARDS))
        start = YEAR_START + timedelta(days=day)
        event = icalendar.Event()
        event.add("UID", f"bench-{n}")
        event.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
        event.add("DTSTART", start)
        event.add("DTEND", start + timedelta(hours=9))
        event.add("SUMMARY", f"{USERS[n % 2]}: {BOARDS[board]} l4t-base")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp, Radicale(Path(tmp) / "dav") as server:
        tmp = Path(tmp)
        url = server.make_calendar("admin", "bookings")
        loaded = time.perf_counter()
        response = requests.put(url, data=year_of_bookings(args.events), auth=server.auth("admin"),
                                headers={"Content-Type": "text/calendar"}, timeout=600)
        response.raise_for_status()
        print(f"loaded {args.events} events into Radicale in {time.perf_counter() - loaded:.1f} s")
        os.environ["BENCH_PW"] = server.passwords["bridge"]
        pillar = make_pillar(tmp / "farm", boards=BOARDS)
        (tmp / "jetson.yaml").write_text(yaml.safe_dump({"jetson": pillar}))
        config = build({
            "caldav": {"url": server.url, "username": "bridge", "password_env": "BENCH_PW"},
            "calendars": [{"url": url, "trust": "summary"}],
            "timezone": "Europe/Paris",
            "inventory": {"pillar_file": str(tmp / "jetson.yaml")},
            "ledger": str(tmp / "ledger.sqlite"),
        })
        inventory = load_inventory(config)
        farm = RecordedFarm(BOARDS)
        store = CalendarStore(config.caldav_url, "bridge", server.passwords["bridge"], 60)
        night = datetime(2026, 6, 16, 1, 0, tzinfo=PARIS)
        with Ledger(config.ledger) as ledger:
            bridge = Bridge(config, inventory, store, farm, ledger, Mailer(config.smtp))
            figures = []
            for label in ("first sync (acts on one day)", "second sync (nothing to do)"):
                calls = len(farm.calls)
                began = time.perf_counter()
                run = bridge.execute(bridge.prepare(night))
                seconds = time.perf_counter() - began
                figures.append(seconds)
                print(f"{label}: {seconds:.2f} s, {len(run.reading.bookings)} bookings read, "
                      f"{len(farm.calls) - calls} orchestrations started "
                      f"({sum(len(c[1]) for c in farm.calls[calls:])} boards), {run.written} written back")
                night += timedelta(minutes=5)
        ok = figures[0] < 10 and figures[1] < 3 and len(farm.calls) == 1
        print(f"targets (first < 10 s, second < 3 s with no orchestration): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
