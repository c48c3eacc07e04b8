"""What a recurring event may cost, decided before anything is expanded.

An RRULE is user input. Expanded naively it can ask for an occurrence every second, count
from 1900, or filter for a day that never comes (``FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30``),
on which dateutil walks to year 9999 without yielding once. So, before the series is
expanded (docs/bridge-admin.md, "What a booking may repeat"):

- a booking repeats at most daily: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY;
- a daily or weekly rule picks only weekdays, months and times, so every year has its days
  (and a daily one on chosen weekdays does not step whole weeks);
- a monthly or yearly rule must happen at all. The Gregorian calendar repeats exactly every
  400 years, so the rule is tried once from its start moved by whole cycles close to year
  9999: a rule that never happens ends there after at most about ten thousand steps;
- the rule may not start more than 50 years before the window, as dateutil steps through
  each of its periods (days, weeks...) since DTSTART whether it matches or not;
- then the starts are counted lazily from DTSTART: at most ``budget + 1`` are ever drawn
  from dateutil, and counting stops at ``cap + 1`` starts that meet the window.
"""

from dataclasses import dataclass
from datetime import date, datetime, time
from math import gcd

from dateutil.rrule import rrulestr

ALLOWED_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# Without these a daily or weekly rule has a day in every week of its months.
MONTH_LEVEL_PARTS = ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")
NOT_RFC_PARTS = ("BYEASTER",)  # a dateutil extension, not RFC 5545
CYCLE_YEARS = 400
PERIODS_PER_CYCLE = {"MONTHLY": 4800, "YEARLY": 400}
LAST_PROBE_YEAR = 9999 - CYCLE_YEARS
SPAN_OVERRIDES = ("UNTIL", "COUNT")
MAX_AGE_YEARS = 50  # a daily series that old is ~18,000 dateutil steps before the window


class SeriesRefused(Exception):
    """The series may not be expanded; the message says why, for the user."""


@dataclass(frozen=True)
class Count:
    """Starts drawn from a rule (``generated``) and, of those, starts that meet the window."""

    generated: int
    in_window: int


def _parts(recur):
    return {str(key).upper(): value for key, value in dict(recur).items()}


def _without(text, names):
    return ";".join(p for p in text.split(";") if p.split("=")[0].strip().upper() not in names)


def check_rule(recur):
    """Refuse (SeriesRefused) a rule no booking needs that could stall dateutil."""
    parts = _parts(recur)
    freq = str((parts.get("FREQ") or [""])[0]).upper()
    if freq not in ALLOWED_FREQS:
        raise SeriesRefused(f"the event repeats with FREQ={freq or 'nothing'}; a booking may "
                            "repeat at most daily (DAILY, WEEKLY, MONTHLY or YEARLY)")
    try:
        interval = int((parts.get("INTERVAL") or [1])[0])
    except (TypeError, ValueError):
        interval = 0
    if interval < 1:
        raise SeriesRefused("the event's RRULE has an INTERVAL that is not a positive number")
    for name in NOT_RFC_PARTS:
        if name in parts:
            raise SeriesRefused(f"the event's RRULE uses {name}, which is not iCalendar")
    if freq in ("DAILY", "WEEKLY"):
        for name in MONTH_LEVEL_PARTS:
            if name in parts:
                raise SeriesRefused(f"a {freq.lower()} booking may not use {name} in its RRULE "
                                    "(only days of the week, months and times)")
    if freq == "DAILY" and "BYDAY" in parts and interval % 7 == 0:
        # every step lands on DTSTART's weekday: any other BYDAY never comes
        raise SeriesRefused(f"the event repeats every {interval} days on chosen weekdays; "
                            "write it as a weekly repeat")
    return freq, interval


def as_datetime(value):
    """DTSTART as dateutil counts from it: a DATE becomes (floating) midnight, a zone is kept."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0))
    raise ValueError(f"{value!r} is not a date or a date-time")


def parse_rule(text, dtstart):
    """A dateutil rule for ``text``. recurring_ical_events mends an UNTIL of the wrong type and a
    negative COUNT; without UNTIL and COUNT a rule has at least as many starts, so the counts
    below stay an upper bound."""
    try:
        return rrulestr(text, dtstart=dtstart)
    except (ValueError, TypeError):
        try:
            return rrulestr(_without(text, SPAN_OVERRIDES), dtstart=dtstart)
        except (ValueError, TypeError) as err:
            raise SeriesRefused(f"the event's RRULE cannot be read: {err}") from None


def ever_happens(text, freq, interval, dtstart):
    """False if a monthly or yearly rule has no start at all (tried over one 400-year cycle)."""
    periods = PERIODS_PER_CYCLE[freq]
    step = CYCLE_YEARS * (interval // gcd(periods, interval))  # keeps the INTERVAL's phase
    shift = max(0, (LAST_PROBE_YEAR - dtstart.year) // step) * step
    probe = dtstart.replace(year=dtstart.year + shift, tzinfo=None)
    try:
        rule = rrulestr(_without(text, SPAN_OVERRIDES), dtstart=probe)
    except (ValueError, TypeError) as err:
        raise SeriesRefused(f"the event's RRULE cannot be read: {err}") from None
    return next(iter(rule), None) is not None


def count_starts(rule, lo, hi, cap, budget):
    """Draw the starts of ``rule`` in order until one reaches ``hi``, ``cap + 1`` of them meet
    [lo, hi) or ``budget + 1`` were drawn, whichever comes first."""
    generated = in_window = 0
    for start in rule:
        generated += 1
        if start >= hi:
            break
        if start >= lo:
            in_window += 1
            if in_window > cap:
                break
        if generated > budget:
            break
    return Count(generated, in_window)


class Draws:
    """How many more starts may be drawn from dateutil for one calendar object."""

    def __init__(self, limit):
        self.limit, self.left = limit, limit


def bound_series(component, lo, hi, zone, cap, draws):
    """Refuse ``component``'s RRULEs if they cannot happen, or would draw more starts than
    ``draws`` has left to reach ``hi``, or give more than ``cap`` starts in [lo, hi).
    Returns how many starts meet the window."""
    dtstart = as_datetime(component.decoded("DTSTART"))
    began = dtstart.date().isoformat()
    if dtstart.tzinfo is None:
        lo, hi = (t.astimezone(zone).replace(tzinfo=None) for t in (lo, hi))
    else:
        lo, hi = lo.astimezone(dtstart.tzinfo), hi.astimezone(dtstart.tzinfo)
    rules = component.get("RRULE")
    rules = rules if isinstance(rules, list) else [rules] if rules is not None else []
    in_window = 0
    for recur in rules:
        freq, interval = check_rule(recur)
        if hi.year - dtstart.year > MAX_AGE_YEARS:  # dateutil steps through every period
            raise SeriesRefused(f"the event starts on {began}, more than {MAX_AGE_YEARS} years "
                                "before this window; move its start closer")
        text = recur.to_ical().decode()
        if freq in PERIODS_PER_CYCLE and not ever_happens(text, freq, interval, dtstart):
            raise SeriesRefused(f"the event's RRULE ({text[:80]}) never happens")
        count = count_starts(parse_rule(text, dtstart), lo, hi, cap - in_window, draws.left)
        draws.left -= count.generated
        in_window += count.in_window
        if draws.left < 0:
            raise SeriesRefused(f"the event repeats more than {draws.limit} times between its "
                                f"start ({began}) and this window; a booking may not "
                                "repeat that often")
        if in_window > cap:
            raise SeriesRefused(f"the event repeats more than {cap} times around this window; "
                                "a booking may not repeat that often")
    return in_window
