"""Reading every calendar of the configuration into bookings and refusals for a time window.

One calendar that cannot be read is reported and its bookings are left as they were (the
decision never releases a board because its calendar did not answer); one bad event becomes
a refusal on that event alone.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yaml

from calendar_bridge.booking import Refusal, parse_booking
from calendar_bridge.errors import CalendarError, CalendarMissing, ConfigError
from calendar_bridge.occurrences import Occurrence, read_object
from jetson_farm.errors import JetsonError
from jetson_farm.inventory import Inventory

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Reading:
    """What the calendars said for one window."""

    bookings: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    objects: dict = field(default_factory=dict)  # href -> RawObject, for the write-back
    specs: dict = field(default_factory=dict)  # calendar URL -> CalendarSpec
    unread: set = field(default_factory=set)  # calendar URLs that could not be read
    errors: list = field(default_factory=list)
    calendars: int = 0


def load_inventory(config, salt=None):
    """The farm's Inventory from ``inventory.pillar_file`` or, failing that, through Salt."""
    if config.pillar_file:
        try:
            with open(config.pillar_file, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"inventory.pillar_file: cannot read {config.pillar_file}: {err}") from err
        pillar = data.get("jetson", data) if isinstance(data, dict) else data
    else:
        pillar = salt.jetson_pillar(config.pillar_minion)
    source = config.pillar_file or f"the pillar of minion {config.pillar_minion}"
    try:
        inventory = Inventory.load(pillar)
    except JetsonError as err:
        raise ConfigError(f"inventory ({source}): {err}") from err
    if not inventory.boards or not inventory.users:
        raise ConfigError(f"inventory ({source}): the jetson pillar has no boards or no users")
    return inventory


def _unreadable_refusal(item, spec, href):
    """A refusal at the event's own times when its DTSTART could be read, else at EPOCH with
    ``times_known`` False (listed and mailed as an unknown time)."""
    start = item.start or EPOCH
    occurrence = Occurrence(
        calendar_url=item.calendar_url, href=href, uid=item.uid or href, recurrence_id="",
        start=start, end=item.end or start, all_day=False, summary="", location="",
        description="", status="CONFIRMED", has_attendees=False,
        times_known=item.start is not None)
    return Refusal(occurrence=occurrence, reason=item.reason, user=spec.owner or "")


def read_calendars(config, inventory, store, zone, start, end):
    """A :class:`Reading` of every configured calendar between ``start`` and ``end``."""
    reading = Reading()
    for spec in config.calendar_specs(inventory.users):
        reading.specs[spec.url] = spec
        try:
            objects = store.fetch(spec.url, start, end)
        except CalendarMissing as err:
            reading.unread.add(spec.url)
            if spec in config.calendars:
                reading.errors.append(str(err))
            else:
                log.info("%s (no calendar for this user)", err)
            continue
        except CalendarError as err:
            reading.unread.add(spec.url)
            reading.errors.append(str(err))
            log.warning("%s", err)
            continue
        reading.calendars += 1
        for raw in objects:
            reading.objects[raw.href] = raw
            occurrences, unreadable = read_object(
                raw.data, spec.url, raw.href, zone, start, end,
                max_occurrences=config.max_occurrences, max_bytes=config.max_event_bytes)
            for item in unreadable:
                reading.refusals.append(_unreadable_refusal(item, spec, raw.href))
            for occurrence in occurrences:
                parsed = parse_booking(occurrence, spec, inventory)
                (reading.refusals if isinstance(parsed, Refusal) else reading.bookings).append(parsed)
    log.info("read %d calendars: %d bookings, %d refused", reading.calendars,
             len(reading.bookings), len(reading.refusals))
    return reading
