"""From one calendar object (iCalendar text) to the occurrences that meet a time window.

Pure: no network. Recurring events are expanded here (RRULE, RDATE, EXDATE, overrides), as
RFC 5545 says for all-day starts, DURATION and a missing end; cancelled occurrences are
dropped; floating times and unknown zones are read in the farm's timezone. One bad event
becomes a :class:`Unreadable` with the reason, never an exception out of :func:`read_object`.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import recurring_ical_events
import x_wr_timezone
from dateutil.rrule import rrulestr

from calendar_bridge.text import strip_html

log = logging.getLogger(__name__)

UID_LINE_RE = re.compile(rb"(?mi)^UID:([^\r\n]*)")
MARGIN = timedelta(days=2)  # expand a little wider, then cut exactly in UTC


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
    start: datetime | None = None
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


def _count_in_window(master, lo, hi, cap):
    """How many starts the RRULEs of ``master`` give in [lo, hi), counting at most ``cap + 1``."""
    dtstart = master.decoded("DTSTART")
    if not isinstance(dtstart, datetime):
        dtstart = datetime.combine(dtstart, time(0))
    if dtstart.tzinfo is None:
        lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
    else:
        lo, hi = lo.astimezone(dtstart.tzinfo), hi.astimezone(dtstart.tzinfo)
    rules = master.get("RRULE")
    rules = rules if isinstance(rules, list) else [rules]
    total = 0
    for rule in rules:
        try:
            parsed = rrulestr(rule.to_ical().decode(), dtstart=dtstart)
            if dtstart.tzinfo is None:
                lo_cmp, hi_cmp = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
            else:
                lo_cmp, hi_cmp = lo, hi
            for when in parsed.xafter(lo_cmp, count=cap + 1, inc=True):
                if when >= hi_cmp:
                    break
                total += 1
        except (ValueError, TypeError) as err:
            # dateutil is stricter than RFC 5545 about UNTIL; the expander below decides.
            log.debug("cannot pre-count %s: %s", master.get("UID"), err)
    return total


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
                               f"the event is {len(ics)} bytes, more than the {max_bytes} allowed")]
    try:
        calendar = icalendar.Calendar.from_ical(ics)
        calendar = x_wr_timezone.to_standard(calendar)
    except Exception as err:  # icalendar raises many types on broken input
        return [], [Unreadable(calendar_url, href, _uid_hint(ics), f"not valid iCalendar: {err}")]
    occurrences, unreadable = [], []
    for uid, components in _group_by_uid(calendar).items():
        try:
            occurrences.extend(_expand(calendar, uid, components, calendar_url, href, zone,
                                       window_start, window_end, max_occurrences))
        except _Refused as err:
            unreadable.append(Unreadable(calendar_url, href, uid, str(err)))
        except Exception as err:  # one broken series must not stop the others
            log.info("cannot read %s in %s: %r", uid, href, err)
            unreadable.append(Unreadable(calendar_url, href, uid, f"cannot read this event: {err}"))
    return occurrences, unreadable


class _Refused(Exception):
    pass


def _uid_hint(ics):
    match = UID_LINE_RE.search(ics)
    return match.group(1).decode("utf-8", "replace").strip()[:200] if match else ""


def _expand(calendar, uid, components, calendar_url, href, zone, window_start, window_end, cap):
    if not uid:
        raise _Refused("the event has no UID")
    for component in components:
        if "DTSTART" not in component:
            raise _Refused("the event has no start (DTSTART)")
        for name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
            if isinstance(component.get(name), list):
                raise _Refused(f"the event has more than one {name}")
        try:
            start, end, _ = _bounds(component, zone)
        except Exception as err:
            raise _Refused(f"the event's start or end cannot be read: {err}") from err
        if end < start:
            raise _Refused("the event ends before it starts")
    masters = [c for c in components if "RECURRENCE-ID" not in c]
    recurring = any("RRULE" in c or "RDATE" in c for c in masters) or len(components) > 1
    lo, hi = window_start - MARGIN, window_end + MARGIN
    for master in masters:
        if "RRULE" in master and _count_in_window(master, lo, hi, cap) > cap:
            raise _Refused(f"the event repeats more than {cap} times around this window; "
                           "a booking may not repeat that often")
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
