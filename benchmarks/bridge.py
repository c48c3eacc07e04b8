"""Benchmark of the calendar bridge: a year of bookings on 30 boards (10,000 events) in Radicale.

Times a nightly ``sync`` that acts on one day, then a second ``sync`` the same night that has
nothing to do (and must start no orchestration). Salt is the recorded stand-in of the
integration tests: the figures are the bridge's own (CalDAV query, parsing, decision, ledger,
write-back). Targets: first run under 10 s, second under 3 s.

First the cost of one RRULE bomb: reading a calendar (the CalDAV query and the parsing, as a
run does) that holds one event repeating every second (or daily since 1900), against reading
an empty calendar. Each read runs in its own process so that its peak memory (ru_maxrss) is
its own. Target: under 0.5 s of the bridge's CPU and under 50 MB more than the empty calendar.

    .venv/bin/python benchmarks/bridge.py [--events 10000] [--bombs-only]
"""

import argparse
import json
import os
import resource
import subprocess
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
from calendar_bridge.occurrences import read_object
from calendar_bridge.reader import load_inventory
from calendar_bridge.sync import Bridge
from tests.bridge_events import booking_ics
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


BOMB_NIGHT = datetime(2026, 11, 24, 1, 0, tzinfo=PARIS)
BOMB_LOOKAHEAD = timedelta(days=7)  # the configuration's default
EVERY_SECOND = {"BYHOUR": list(range(24)), "BYMINUTE": list(range(60)), "BYSECOND": list(range(60))}
BOMBS = {  # label: (RRULE, DTSTART)
    "FREQ=SECONDLY without COUNT": ({"FREQ": "SECONDLY"}, BOMB_NIGHT),
    "FREQ=SECONDLY;COUNT=86400": ({"FREQ": "SECONDLY", "COUNT": 86400}, BOMB_NIGHT),
    "FREQ=DAILY every second (BYHOUR, BYMINUTE, BYSECOND)": ({"FREQ": "DAILY", **EVERY_SECOND},
                                                             BOMB_NIGHT),
    "FREQ=DAILY from 1900 without COUNT": ({"FREQ": "DAILY"},
                                           datetime(1900, 1, 1, 9, 0, tzinfo=PARIS)),
}


def read_once(url, password):
    """Read the calendar at ``url`` as a nightly run does: wall seconds (the server's work
    included), the bridge's own CPU seconds, its peak RSS in MB and the refusals."""
    began, cpu = time.perf_counter(), time.process_time()
    store = CalendarStore(url, "bridge", password, 600)
    refusals = []
    for raw in store.fetch(url, BOMB_NIGHT, BOMB_NIGHT + BOMB_LOOKAHEAD):
        _, unreadable = read_object(raw.data, url, raw.href, PARIS, BOMB_NIGHT,
                                    BOMB_NIGHT + BOMB_LOOKAHEAD)
        refusals.extend(item.reason for item in unreadable)
    return {"seconds": time.perf_counter() - began, "cpu": time.process_time() - cpu,
            "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "refusals": refusals}


def read_in_child(url, password):
    """``read_once`` in a fresh process, so that its peak memory is its own."""
    out = subprocess.run([sys.executable, __file__, "--read-once", url], capture_output=True,
                         text=True, check=True, timeout=1800,
                         env={**os.environ, "BENCH_PW": password})
    return json.loads(out.stdout)


class BombRadicale(Radicale):
    """Radicale without its own RRULE limit (max_vevent_rrule_occurrence refuses a COUNT over
    10,000 at PUT): many servers have none, and the bridge must not rely on one."""

    def command(self):
        command = super().command()
        config = self.root / "config"
        config.write_text(config.read_text().replace(
            "[server]\n", "[server]\nmax_vevent_rrule_occurrence = 0\n", 1))  # 0: no limit
        return command


def bomb_costs(server):
    """Print what one RRULE bomb costs a run, against an empty calendar; True if on target.

    The target is on the bridge's own CPU time and memory: the wall time also holds the
    server's work to answer the time-range query (Radicale expands a series from its DTSTART
    to decide whether it meets the range), which no client can bound."""
    password = server.passwords["bridge"]
    empty = read_in_child(server.make_calendar("admin", "empty"), password)
    print(f"empty calendar: {empty['seconds']:.2f} s ({empty['cpu']:.2f} s CPU in the bridge), "
          f"peak {empty['mb']:.0f} MB")
    ok = True
    for n, (label, (rule, start)) in enumerate(BOMBS.items()):
        url = server.make_calendar("admin", f"bomb{n}")
        ics = booking_ics("bomb", start, start + timedelta(seconds=1), rrule=rule)
        server.put(f"{url}bomb.ics", ics, user="admin")
        one = read_in_child(url, password)
        cpu, mb = one["cpu"] - empty["cpu"], one["mb"] - empty["mb"]
        ok = ok and cpu < 0.5 and mb < 50 and len(one["refusals"]) == 1
        print(f"one {label} event: {cpu:+.2f} s CPU in the bridge, {mb:+.0f} MB "
              f"({one['seconds'] - empty['seconds']:+.2f} s wall, the server's query included); "
              f"refused: {one['refusals'][0] if one['refusals'] else 'NO'}")
    print("target (one bomb under 0.5 s CPU and 50 MB more in the bridge, refused): "
          f"{'met' if ok else 'NOT met'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--bombs-only", action="store_true", help="only the RRULE-bomb figures")
    parser.add_argument("--read-once", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_once:
        print(json.dumps(read_once(args.read_once, os.environ["BENCH_PW"])))
        return 0
    with tempfile.TemporaryDirectory(prefix="bombs-") as tmp, BombRadicale(Path(tmp) / "dav") as server:
        bombs_ok = bomb_costs(server)
    if args.bombs_only:
        return 0 if bombs_ok else 1
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
        ok = figures[0] < 10 and figures[1] < 3 and len(farm.calls) == 1 and bombs_ok
        print(f"targets (first < 10 s, second < 3 s with no orchestration): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
