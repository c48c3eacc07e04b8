"""From one calendar object (iCalendar text) to the occurrences that meet a time window.

Pure: no network. Recurring events are expanded here (RRULE, RDATE, EXDATE, overrides), as
RFC 5545 says for all-day starts, DURATION and a missing end; cancelled occurrences are
dropped; floating times and unknown zones are read in the farm's timezone. What a series may
cost is bounded before it is expanded (calendar_bridge.recurrence). One bad event becomes a
:class:`Unreadable` with the reason and, where its DTSTART can be read, its times; never an
exception out of :func:`read_object`.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone

from calendar_bridge.recurrence import Draws, SeriesRefused, bound_series
from calendar_bridge.text import strip_html

log = logging.getLogger(__name__)

UID_LINE_RE = re.compile(rb"(?mi)^UID:([^\r\n]*)")
VEVENT_BEGIN_RE = re.compile(rb"(?mi)^BEGIN:VEVENT\s*$")
DTSTART_LINE_RE = re.compile(rb"(?mi)^DTSTART((?:;[^:\r\n]*)?):([0-9TZ]{8,16})\s*$")
TZID_PARAM_RE = re.compile(r"(?i);TZID=\"?([^;\"]+)")
MARGIN = timedelta(days=2)  # expand a little wider, then cut exactly in UTC
DRAWS_PER_OCCURRENCE = 100  # an object's series may draw 100 x max_occurrences starts in all


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a VEVENT, its times in UTC."""

    calendar_url: str
    href: str
    uid: str
    recurrence_id: str  # "" for a single event, else the RECURRENCE-ID in UTC (YYYYMMDDTHHMMSSZ)
    start: datetime
    end: datetime
    all_day: bool
    summary: str
    location: str
    description: str
    status: str  # the event's STATUS (CONFIRMED, TENTATIVE...), upper case
    has_attendees: bool
    created: str = ""
    times_known: bool = True  # False for an unreadable event whose DTSTART could not be read

    @property
    def key(self):
        """The identity of the occurrence: (calendar URL, UID, RECURRENCE-ID in UTC)."""
        return f"{self.calendar_url}|{self.uid}|{self.recurrence_id}"


@dataclass(frozen=True)
class Unreadable:
    """An event (or a whole object) the bridge cannot read; ``reason`` says why."""

    calendar_url: str
    href: str
    uid: str
    reason: str
    start: datetime | None = None  # in UTC, from the raw DTSTART when it can be read
    end: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def key(self):
        return f"{self.calendar_url}|{self.uid}|"


def to_utc(value, zone):
    """An aware UTC datetime for a DATE (farm-local midnight), floating or zoned DATE-TIME."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    raise ValueError(f"{value!r} is not a date or a date-time")


def utc_id(value, zone):
    return to_utc(value, zone).strftime("%Y%m%dT%H%M%SZ")


def _text(component, name):
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return strip_html(str(value)).strip()


def _bounds(component, zone):
    """(start, end, all_day) in UTC, as RFC 5545 section 3.6.1 reads DTSTART/DTEND/DURATION."""
    start_value = component.decoded("DTSTART")
    all_day = isinstance(start_value, date) and not isinstance(start_value, datetime)
    start = to_utc(start_value, zone)
    if "DTEND" in component:
        end = to_utc(component.decoded("DTEND"), zone)
    elif "DURATION" in component:
        duration = component.decoded("DURATION")
        if not isinstance(duration, timedelta):
            raise ValueError(f"DURATION {component.get('DURATION').to_ical()[:40]!r} is not a duration")
        if all_day:
            end = to_utc(start_value + timedelta(days=duration.days), zone)
        else:
            end = start + duration
    elif all_day:
        end = to_utc(start_value + timedelta(days=1), zone)
    else:
        end = start  # a DATE-TIME start alone is an instant (RFC 5545 3.6.1)
    return start, end, all_day


def _group_by_uid(calendar):
    groups = {}
    for component in calendar.walk("VEVENT"):
        uid = str(component.get("UID", "")).strip()
        groups.setdefault(uid, []).append(component)
    return groups


def _sub_calendar(calendar, components):
    sub = icalendar.Calendar()
    for tz in calendar.walk("VTIMEZONE"):
        sub.add_component(tz)
    for component in components:
        sub.add_component(component)
    return sub


def read_object(ics, calendar_url, href, zone, window_start, window_end, max_occurrences=200,
                max_bytes=262144):
    """The occurrences of the object ``ics`` that overlap [window_start, window_end).

    Returns ``(occurrences, unreadable)``: lists of :class:`Occurrence` and :class:`Unreadable`.
    """
    if isinstance(ics, str):
        ics = ics.encode("utf-8", "surrogateescape")
    if len(ics) > max_bytes:
        return [], [Unreadable(calendar_url, href, _uid_hint(ics),
                               f"the event is {len(ics)} bytes, more than the {max_bytes} allowed",
                               *_raw_times(ics, zone))]
    try:
        calendar = icalendar.Calendar.from_ical(ics)
        calendar = x_wr_timezone.to_standard(calendar)
    except Exception as err:  # icalendar raises many types on broken input
        return [], [Unreadable(calendar_url, href, _uid_hint(ics), f"not valid iCalendar: {err}",
                               *_raw_times(ics, zone))]
    occurrences, unreadable = [], []
    draws = Draws(max_occurrences * DRAWS_PER_OCCURRENCE)
    for uid, components in _group_by_uid(calendar).items():
        try:
            occurrences.extend(_expand(calendar, uid, components, calendar_url, href, zone,
                                       window_start, window_end, max_occurrences, draws))
            continue
        except _Refused as err:
            reason = str(err)
        except Exception as err:  # one broken series must not stop the others
            log.info("cannot read %s in %s: %r", uid, href, err)
            reason = f"cannot read this event: {err}"
        unreadable.append(Unreadable(calendar_url, href, uid, reason, *_series_times(components, zone)))
    return occurrences, unreadable


def _series_times(components, zone):
    """(start, end) in UTC of the series' first VEVENT (its master if it has one), as far as
    they can be read; (None, None) if its DTSTART cannot. The event is refused already: its
    times only help the user find it."""
    first = next((c for c in components if "RECURRENCE-ID" not in c), components[0])
    try:
        start = to_utc(first.decoded("DTSTART"), zone)
    except Exception:  # icalendar raises many types on broken values
        return None, None
    try:
        _, end, _ = _bounds(first, zone)
    except Exception:
        end = start
    return start, max(start, end)


def _raw_times(ics, zone):
    """(start, None) from the first VEVENT's DTSTART line of an object that cannot be parsed
    whole (a VTIMEZONE's DTSTART, often 1970-01-01, says nothing of the event)."""
    event = VEVENT_BEGIN_RE.search(ics)
    match = DTSTART_LINE_RE.search(ics, event.end()) if event else None
    if not match:
        return None, None
    params, value = match.group(1).decode("ascii", "replace"), match.group(2).decode("ascii")
    tzid = TZID_PARAM_RE.search(params)
    try:
        when = icalendar.vDDDTypes.from_ical(value)
        if isinstance(when, datetime) and when.tzinfo is None and tzid:
            when = when.replace(tzinfo=ZoneInfo(tzid.group(1).strip()))
        return to_utc(when, zone), None
    except Exception:  # an unknown zone or a broken value: no time then
        return None, None


class _Refused(Exception):
    pass


def _bound(components, lo, hi, zone, cap, draws):
    """Refuse the series before it is expanded if it would cost too much (calendar_bridge.recurrence):
    its RRULEs, RDATEs and moved occurrences may give at most ``cap`` starts in [lo, hi)."""
    total = sum(1 for c in components if "RECURRENCE-ID" in c and lo <= _bounds(c, zone)[0] < hi)
    for component in components:
        total += _rdates_between(component, lo, hi, zone)
        if "RRULE" in component:
            try:
                total += bound_series(component, lo, hi, zone, cap, draws)
            except SeriesRefused as err:
                raise _Refused(str(err)) from None
        if total > cap:
            raise _Refused(f"the event has more than {cap} occurrences around this window, "
                           "more than a booking may have")


def _rdates_between(component, lo, hi, zone):
    values = component.get("RDATE")
    values = values if isinstance(values, list) else [values] if values is not None else []
    total = 0
    for prop in values:
        for item in getattr(prop, "dts", []):
            when = item.dt[0] if isinstance(item.dt, tuple) else item.dt
            total += lo <= to_utc(when, zone) < hi
    return total


def _uid_hint(ics):
    match = UID_LINE_RE.search(ics)
    return match.group(1).decode("utf-8", "replace").strip()[:200] if match else ""


def _expand(calendar, uid, components, calendar_url, href, zone, window_start, window_end, cap,
            draws):
    if not uid:
        raise _Refused("the event has no UID")
    before = after = timedelta(0)  # how far recurring_ical_events widens its query for this series
    for component in components:
        if "DTSTART" not in component:
            raise _Refused("the event has no start (DTSTART)")
        for name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
            if isinstance(component.get(name), list):
                raise _Refused(f"the event has more than one {name}")
        try:
            start, end, _ = _bounds(component, zone)
            moved_from = to_utc(component.decoded("RECURRENCE-ID"), zone) \
                if "RECURRENCE-ID" in component else start
        except Exception as err:
            raise _Refused(f"the event's start or end cannot be read: {err}") from err
        if end < start:
            raise _Refused("the event ends before it starts")
        before = max(before, end - start, end - moved_from)
        after = max(after, moved_from - start)
    masters = [c for c in components if "RECURRENCE-ID" not in c]
    recurring = any("RRULE" in c or "RDATE" in c for c in masters) or len(components) > 1
    lo, hi = window_start - MARGIN, window_end + MARGIN
    _bound(components, lo - before, hi + after, zone, cap, draws)
    query = recurring_ical_events.of(_sub_calendar(calendar, components))
    found = query.between(lo.astimezone(zone), hi.astimezone(zone))
    if len(found) > cap:
        raise _Refused(f"the event has {len(found)} occurrences around this window, "
                       f"more than the {cap} allowed")
    result = []
    for component in found:
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start, end, all_day = _bounds(component, zone)
        if end < start:
            raise _Refused("the event ends before it starts")
        if not (start < window_end and (end > window_start or (end == start == window_start))):
            continue
        recurrence_id = ""
        if recurring and "RECURRENCE-ID" in component:
            recurrence_id = utc_id(component.decoded("RECURRENCE-ID"), zone)
        result.append(Occurrence(
            calendar_url=calendar_url, href=href, uid=uid, recurrence_id=recurrence_id,
            start=start, end=end, all_day=all_day,
            summary=_text(component, "SUMMARY"), location=_text(component, "LOCATION"),
            description=_text(component, "DESCRIPTION"),
            status=str(component.get("STATUS", "CONFIRMED")).upper(),
            has_attendees="ATTENDEE" in component,
            created=str(component.get("CREATED").to_ical().decode()) if "CREATED" in component else "",
        ))
    return result
