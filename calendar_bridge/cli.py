"""``calendar-bridge``: sync, check, list.

Exit codes: 0 all went well; 1 a booking failed or a calendar or Salt could not be reached;
2 the configuration or the inventory is unusable.
"""

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_bridge import config as config_mod
from calendar_bridge.caldav_door import CalendarStore
from calendar_bridge.decide import split_conflicts
from calendar_bridge.errors import BridgeError, CalendarError, ConfigError, SaltError
from calendar_bridge.ledger import Ledger
from calendar_bridge.mail import Mailer
from calendar_bridge.reader import load_inventory, read_calendars
from calendar_bridge.salt_gateway import connect
from calendar_bridge.sync import Bridge, summary_of

log = logging.getLogger("calendar_bridge")


def _parse_now(text):
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--now {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--now {text!r} needs a UTC offset, e.g. 2026-11-24T01:00+01:00")
    return value.astimezone(UTC)


def _parse_day(text):
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--day {text!r} is not a date like 2026-11-24") from None


def build_parser():
    parser = argparse.ArgumentParser(prog="calendar-bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=config_mod.DEFAULT_PATH, help="the YAML configuration")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="turn the bookings into switches and releases")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    sync.add_argument("--now", type=_parse_now, help="act as if at this time (ISO 8601 with offset)")
    sync.add_argument("--json", action="store_true", help="print the run as JSON")
    sub.add_parser("check", help="check the config, the CalDAV server, the calendars and Salt")
    listing = sub.add_parser("list", help="the bookings of a day as the bridge reads them")
    listing.add_argument("--day", type=_parse_day, help="the farm-local day (default: today)")
    listing.add_argument("--json", action="store_true")
    return parser


def _doors(config, salt):
    inventory = load_inventory(config, salt)
    store = CalendarStore(config.caldav_url, config.caldav_username, config.caldav_password,
                          config.caldav_timeout)
    return inventory, store, salt


def cmd_sync(config, args, salt):
    inventory, store, salt = _doors(config, salt)
    now = args.now or datetime.now(UTC)
    # A dry run leaves no trace, not even a new ledger file.
    ledger_path = ":memory:" if args.dry_run and not os.path.exists(config.ledger) else config.ledger
    with Ledger(ledger_path) as ledger:
        bridge = Bridge(config, inventory, store, salt, ledger, Mailer(config.smtp))
        run = bridge.prepare(now)
        if not args.dry_run:
            bridge.execute(run)
            data, line = summary_of(run)
            ledger.add_run(datetime.now(UTC), now, data)
        else:
            data, line = summary_of(run, dry_run=True)
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        if args.dry_run:
            for item in data["copies_needed"]:
                print(f"copy    {item['image']} <- {item['template']} for {item['user']} "
                      f"({item['board']} from {item['start']}), unless it exists")
            for board, item in data["plan"]["switch"].items():
                print(f"switch  {board} -> {item['image']} for {item['user']} "
                      f"({item['start']} to {item['end']})")
            for board in data["plan"]["release"]:
                print(f"release {board}")
            for mark in data["plan"]["marks"]:
                print(f"{mark['status']:9} {mark['key']}  {mark['reason']}")
        for item in data["copies"]:
            if item["ok"]:
                print(f"copy    {item['image']} <- {item['template']}: {item['comment']}"
                      + (f" ({item['bytes']} bytes in {item['seconds']}s)" if item.get("made") else ""))
        for error in data["errors"]:
            print(f"error: {error}", file=sys.stderr)
        print(line)
    return 1 if data["failed"] or data["errors"] else 0


def cmd_check(config, args, salt):
    failures = 0

    def report(ok, text):
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {text}")

    report(True, f"configuration {config.path}")
    try:
        inventory = load_inventory(config, salt)
        report(True, f"inventory: {len(inventory.boards)} boards, {len(inventory.users)} users")
    except (ConfigError, SaltError) as err:
        report(False, f"inventory: {err}")
        return 1
    store = CalendarStore(config.caldav_url, config.caldav_username, config.caldav_password,
                          config.caldav_timeout)
    for spec in config.calendar_specs(inventory.users):
        try:
            name = store.check(spec.url)
            report(True, f"calendar {spec.url} ({name}, trust {spec.trust})")
        except CalendarError as err:
            report(spec not in config.calendars, f"{err}")
    try:
        status = salt.status()
        report(True, f"salt ({config.salt.mode}): jetson.status lists {len(status)} boards")
    except SaltError as err:
        report(False, f"salt ({config.salt.mode}): {err}")
    return 1 if failures else 0


def cmd_list(config, args, salt):
    inventory, store, _ = _doors(config, salt)
    zone = ZoneInfo(config.timezone or inventory.timezone)
    day = args.day or datetime.now(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = start + timedelta(days=1)
    reading = read_calendars(config, inventory, store, zone, start.astimezone(UTC), end.astimezone(UTC))
    with Ledger(config.ledger) as ledger:
        rows = ledger.rows()
    accepted, conflicts = split_conflicts(reading.bookings, {k: r.first_seen for k, r in rows.items()},
                                          zone)
    items = []
    for booking in accepted:
        items.append((booking.occurrence, "ok", f"{booking.board} {booking.image} for {booking.user}"))
    for booking, reason in conflicts:
        items.append((booking.occurrence, "conflict", reason))
    for refusal in reading.refusals:
        items.append((refusal.occurrence, "refused", refusal.reason))
    items.sort(key=lambda item: (item[0].start, item[0].key))
    listing = [{"start": o.start.astimezone(zone).isoformat() if o.times_known else "",
                "end": o.end.astimezone(zone).isoformat() if o.times_known else "",
                "calendar": o.calendar_url, "uid": o.uid, "summary": o.summary[:100], "verdict": verdict,
                "detail": detail, "status": rows[o.key].status if o.key in rows else ""}
               for o, verdict, detail in items]
    if args.json:
        print(json.dumps({"day": day.isoformat(), "bookings": listing, "errors": reading.errors}, indent=2))
    else:
        for item in listing:
            when = f"{item['start'][11:16]}-{item['end'][11:16]}" if item["start"] else "??:??-??:??"
            print(f"{when} {item['verdict']:8} {item['detail']}"
                  f"  [{item['summary']}]")
        for error in reading.errors:
            print(f"error: {error}", file=sys.stderr)
    return 1 if reading.errors else 0


COMMANDS = {"sync": cmd_sync, "check": cmd_check, "list": cmd_list}


def main(argv=None):
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_mod.load(args.config)
        salt = connect(config)
        try:
            return COMMANDS[args.command](config, args, salt)
        finally:
            salt.close()
    except ConfigError as err:
        print(f"calendar-bridge: {err}", file=sys.stderr)
        return 2
    except BridgeError as err:
        print(f"calendar-bridge: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
