"""Booking events as calendar clients write them, for the bridge's tests (built with icalendar)."""

import pathlib
from datetime import UTC, datetime, timedelta

import icalendar

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "ics"


def fixture(name):
    """The text of ``tests/fixtures/ics/<folder>/<name>``."""
    return next(FIXTURES.glob(f"*/{name}")).read_text(encoding="utf-8", errors="surrogateescape")


def booking_ics(uid, start, end=None, summary="jtk1 cuda-dev", *, location=None, description=None,
                rrule=None, exdates=(), overrides=(), attendees=(), duration=None, status=None,
                created=None):
    """One VCALENDAR holding the event ``uid`` (and its ``overrides``: dicts with
    ``recurrence_id`` and any of ``start``, ``end``, ``status``, ``summary``)."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//jetson-farm tests//EN")
    calendar.add("VERSION", "2.0")
    master = _event(uid, start, end, summary, location, description, duration, status, created)
    if rrule:
        master.add("RRULE", rrule)
    for when in exdates:
        master.add("EXDATE", when)
    for attendee in attendees:
        master.add("ATTENDEE", f"mailto:{attendee}")
    calendar.add_component(master)
    for override in overrides:
        rid = override["recurrence_id"]
        length = (end - start) if end is not None else timedelta(hours=1)
        moved = override.get("start", rid)
        event = _event(uid, moved, override.get("end", moved + length),
                       override.get("summary", summary), location, description, None,
                       override.get("status"), created)
        event.add("RECURRENCE-ID", rid)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical().decode()


def _event(uid, start, end, summary, location, description, duration, status, created):
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", datetime(2026, 11, 1, tzinfo=UTC))
    event.add("DTSTART", start)
    if end is not None:
        event.add("DTEND", end)
    if duration is not None:
        event.add("DURATION", duration)
    event.add("SUMMARY", summary)
    if location is not None:
        event.add("LOCATION", location)
    if description is not None:
        event.add("DESCRIPTION", description)
    if status:
        event.add("STATUS", status)
    if created:
        event.add("CREATED", created)
    event.add("SEQUENCE", 0)
    return event
