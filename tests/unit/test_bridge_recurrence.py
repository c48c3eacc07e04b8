"""RRULE bombs: refused before they are expanded, with the reason, and never drawn past the bound."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_bridge.occurrences import read_object
from calendar_bridge.recurrence import count_starts, parse_rule
from tests.bridge_events import booking_ics

PARIS = ZoneInfo("Europe/Paris")
CAL = "http://127.0.0.1/alice/boards/"
NIGHT = datetime(2026, 11, 24, 1, 0, tzinfo=PARIS)
WEEK = (NIGHT, NIGHT + timedelta(days=7))  # a nightly run's lookahead
EVERY_SECOND = {"BYHOUR": list(range(24)), "BYMINUTE": list(range(60)), "BYSECOND": list(range(60))}


def read(ics, window=WEEK):
    return read_object(ics, CAL, CAL + "e.ics", PARIS, *window)


def refusal(rrule, start=NIGHT, length=timedelta(hours=1), **event):
    """The one reason ``rrule`` is refused for, with the good booking beside it still read."""
    bomb = booking_ics("bomb", start, start + length if length else None, rrule=rrule, **event)
    occurrences, unreadable = read(bomb)
    assert occurrences == []
    [item] = unreadable
    assert item.uid == "bomb"
    good = booking_ics("good", NIGHT + timedelta(hours=8), NIGHT + timedelta(hours=9))
    assert len(read(good)[0]) == 1
    return item.reason


def test_every_second_without_count_is_refused_before_anything_is_expanded():
    reason = refusal({"FREQ": "SECONDLY"})
    assert reason == ("the event repeats with FREQ=SECONDLY; a booking may repeat at most daily "
                      "(DAILY, WEEKLY, MONTHLY or YEARLY)")
    assert "FREQ=MINUTELY" in refusal({"FREQ": "MINUTELY", "INTERVAL": 30})


def test_counting_draws_at_most_cap_plus_one_starts_however_often_a_rule_repeats():
    lo, hi = (t.replace(tzinfo=None) for t in WEEK)
    every_second = parse_rule("FREQ=SECONDLY", NIGHT.replace(tzinfo=None))
    count = count_starts(every_second, lo, hi, cap=200, budget=20000)
    assert (count.generated, count.in_window) == (201, 201)  # 604,800 in the week


def test_a_daily_rule_firing_every_second_is_counted_then_refused():
    reason = refusal({"FREQ": "DAILY", **EVERY_SECOND})
    assert reason == ("the event repeats more than 200 times around this window; a booking may "
                      "not repeat that often")


def test_counting_from_a_start_long_ago_stops_at_the_budget():
    start = datetime(1900, 1, 1, 9, 0)
    daily = parse_rule("FREQ=DAILY;COUNT=1000000000", start)
    count = count_starts(daily, *(t.replace(tzinfo=None) for t in WEEK), cap=200, budget=20000)
    assert (count.generated, count.in_window) == (20001, 0)


def test_a_daily_rule_with_a_huge_count_from_1900_is_refused_before_a_step():
    reason = refusal({"FREQ": "DAILY", "COUNT": 10**9}, start=datetime(1900, 1, 1, 9, tzinfo=PARIS))
    assert reason == ("the event starts on 1900-01-01, more than 50 years before this window; "
                      "move its start closer")


def test_a_rule_matching_rarely_since_long_ago_is_refused_before_a_step():
    """dateutil steps through every day since year 1 to find the Mondays of February."""
    reason = refusal({"FREQ": "DAILY", "BYMONTH": 2, "BYDAY": "MO"},
                     start=datetime(1, 2, 5, 9, tzinfo=PARIS))
    assert reason == ("the event starts on 0001-02-05, more than 50 years before this window; "
                      "move its start closer")


def test_a_daily_rule_from_forty_years_ago_is_counted_not_refused():
    ics = booking_ics("old", datetime(1986, 11, 24, 9, tzinfo=PARIS),
                      datetime(1986, 11, 24, 10, tzinfo=PARIS), rrule={"FREQ": "DAILY"})
    occurrences, unreadable = read(ics)
    assert unreadable == [] and len(occurrences) == 7


def test_a_dense_rule_since_this_year_is_refused_once_its_draws_are_spent():
    reason = refusal({"FREQ": "DAILY", **EVERY_SECOND}, start=datetime(2026, 1, 1, tzinfo=PARIS))
    assert reason == ("the event repeats more than 20000 times between its start (2026-01-01) and "
                      "this window; a booking may not repeat that often")


def test_a_daily_rule_with_a_huge_count_from_this_week_is_a_booking():
    ics = booking_ics("daily", NIGHT + timedelta(hours=8), NIGHT + timedelta(hours=9),
                      rrule={"FREQ": "DAILY", "COUNT": 10**9})
    occurrences, unreadable = read(ics)
    assert unreadable == [] and len(occurrences) == 7


@pytest.mark.parametrize("rrule", [
    {"FREQ": "MONTHLY", "BYMONTH": 2, "BYMONTHDAY": 30},
    {"FREQ": "YEARLY", "BYMONTH": 4, "BYMONTHDAY": 31},
    {"FREQ": "MONTHLY", "BYDAY": "MO", "BYSETPOS": 6},
    {"FREQ": "MONTHLY", "INTERVAL": 12, "BYMONTH": 2},  # DTSTART in November: never February
])
def test_a_rule_that_never_happens_is_refused_without_walking_to_year_9999(rrule):
    assert refusal(rrule).endswith(") never happens")


def test_a_rare_rule_is_read():
    leap_day = datetime(2028, 2, 29, 9, 0, tzinfo=PARIS)
    ics = booking_ics("leap", datetime(2024, 2, 29, 9, tzinfo=PARIS),
                      datetime(2024, 2, 29, 10, tzinfo=PARIS),
                      rrule={"FREQ": "YEARLY", "BYMONTH": 2, "BYMONTHDAY": 29})
    occurrences, unreadable = read(ics, (leap_day - timedelta(days=1), leap_day + timedelta(days=1)))
    assert unreadable == [] and [o.start for o in occurrences] == [leap_day]


@pytest.mark.parametrize("rrule, reason", [
    ({"FREQ": "DAILY", "BYMONTH": 2, "BYMONTHDAY": 30},
     "a daily booking may not use BYMONTHDAY in its RRULE (only days of the week, months and times)"),
    ({"FREQ": "WEEKLY", "BYDAY": "MO", "BYSETPOS": 2},
     "a weekly booking may not use BYSETPOS in its RRULE (only days of the week, months and times)"),
    ({"FREQ": "DAILY", "INTERVAL": 0},
     "the event's RRULE has an INTERVAL that is not a positive number"),
    ({"FREQ": "DAILY", "INTERVAL": 7, "BYDAY": "MO"},  # from a Tuesday: a Monday never comes
     "the event repeats every 7 days on chosen weekdays; write it as a weekly repeat"),
])
def test_rules_no_booking_needs_are_refused(rrule, reason):
    assert refusal(rrule) == reason


def test_long_occurrences_starting_before_the_window_count_too():
    """Every day since 2000, each lasting 30 years: thousands overlap the window, though only
    seven start in it; they are counted before recurring_ical_events would build them."""
    start = datetime(2000, 1, 1, 9, tzinfo=PARIS)
    reason = refusal({"FREQ": "DAILY"}, start=start, length=None, duration=timedelta(days=30 * 365))
    assert reason == ("the event repeats more than 200 times around this window; a booking may "
                      "not repeat that often")


def test_many_rdates_are_counted_before_expansion():
    ics = booking_ics("rdates", NIGHT, NIGHT + timedelta(minutes=1))
    dates = ",".join((NIGHT + timedelta(minutes=2 * n)).astimezone(ZoneInfo("UTC"))
                     .strftime("%Y%m%dT%H%M%SZ") for n in range(1, 300))
    ics = ics.replace("END:VEVENT", f"RDATE:{dates}\r\nEND:VEVENT", 1)
    occurrences, [item] = read(ics)
    assert occurrences == []
    assert item.reason == ("the event has more than 200 occurrences around this window, more than "
                           "a booking may have")
