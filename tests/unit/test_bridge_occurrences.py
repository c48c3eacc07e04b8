"""Reading calendar objects: expansion, RFC 5545 end rules, time zones, real-world files."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_bridge.occurrences import read_object
from tests.bridge_events import FIXTURES, booking_ics, fixture

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
CAL = "http://127.0.0.1/alice/boards/"
WIDE = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC))


def read(ics, start=WIDE[0], end=WIDE[1], zone=PARIS, **limits):
    return read_object(ics, CAL, CAL + "e.ics", zone, start, end, **limits)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_weekly_booking_with_one_moved_and_one_cancelled_occurrence():
    first = datetime(2026, 11, 3, 9, 0, tzinfo=PARIS)
    ics = booking_ics("weekly", first, first + timedelta(hours=9), rrule={"FREQ": "WEEKLY", "COUNT": 4},
                      overrides=[{"recurrence_id": first + timedelta(weeks=1),
                                  "start": first + timedelta(weeks=1, days=1)},
                                 {"recurrence_id": first + timedelta(weeks=2), "status": "CANCELLED"}])
    occurrences, unreadable = read(ics)
    assert unreadable == []
    starts = sorted((o.start, o.recurrence_id) for o in occurrences)
    assert starts == [
        (utc(2026, 11, 3, 8), "20261103T080000Z"),
        (utc(2026, 11, 11, 8), "20261110T080000Z"),  # moved a day later, keeps its identity
        (utc(2026, 11, 24, 8), "20261124T080000Z"),
    ]
    assert {o.key for o in occurrences} == {f"{CAL}|weekly|{rid}" for _, rid in starts}


def test_exdate_is_honoured():
    first = datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)
    ics = booking_ics("daily", first, first + timedelta(hours=1), rrule={"FREQ": "DAILY", "COUNT": 3},
                      exdates=[first + timedelta(days=1)])
    occurrences, _ = read(ics)
    assert sorted(o.start.day for o in occurrences) == [2, 4]


def test_all_day_booking_without_end_is_one_farm_local_day():
    occurrences, _ = read(booking_ics("allday", date(2026, 11, 24)))
    [o] = occurrences
    assert o.all_day
    assert (o.start, o.end) == (utc(2026, 11, 23, 23), utc(2026, 11, 24, 23))
    assert o.recurrence_id == ""


def test_duration_and_missing_end():
    start = datetime(2026, 11, 24, 9, tzinfo=PARIS)
    [o], _ = read(booking_ics("dur", start, duration=timedelta(hours=3)))
    assert o.end - o.start == timedelta(hours=3)
    [o], _ = read(booking_ics("noend", start))
    assert o.end == o.start  # an instant, RFC 5545 3.6.1: refused later as a booking without length


def test_new_york_booking_for_a_paris_farm():
    start = datetime(2026, 11, 24, 3, 0, tzinfo=NEW_YORK)
    [o], _ = read(booking_ics("ny", start, start + timedelta(hours=2)))
    assert o.start == utc(2026, 11, 24, 8)
    assert o.start.astimezone(PARIS).hour == 9


def test_floating_and_unknown_zone_times_are_farm_local():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:f\r\n"
           "DTSTART:20261124T090000\r\nDTEND;TZID=Custom Zone Nobody Knows:20261124T100000\r\n"
           "SUMMARY:jtk1 x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    [o], _ = read(ics)
    assert (o.start, o.end) == (utc(2026, 11, 24, 8), utc(2026, 11, 24, 9))


def test_windows_zone_name():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Microsoft Exchange Server 2010\r\nBEGIN:VEVENT\r\n"
           "UID:w\r\nDTSTART;TZID=W. Europe Standard Time:20260704T090000\r\n"
           "DTEND;TZID=W. Europe Standard Time:20260704T100000\r\nSUMMARY:jtk1 x\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n")
    [o], _ = read(ics)
    assert o.start == utc(2026, 7, 4, 7)


def test_x_wr_timezone_google_file():
    occurrences, _ = read(fixture("x_wr_timezone_simple_events_issue_59.ics"))
    assert sorted(o.start for o in occurrences) == [utc(2021, 12, 22, 17), utc(2021, 12, 23, 2)]


def test_html_description_and_altrep_are_stripped():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:h\r\n"
           "DTSTART:20261124T090000Z\r\nDTEND:20261124T100000Z\r\nSUMMARY:jtk1 x\r\n"
           'DESCRIPTION;ALTREP="data:text/html,%3Cb%3Ehi%3C/b%3E":<p>board: <b>jtk2</b></p><br>'
           "image: cuda&amp;dev\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    [o], _ = read(ics)
    assert o.description == "board: jtk2\nimage: cuda&dev"


def test_thunderbird_cancelled_occurrence_is_dropped():
    occurrences, _ = read(fixture("issue_18_cancel_status.ics"))
    assert sorted(o.start.day for o in occurrences) == [28, 30]


def test_google_moved_occurrence_keeps_its_recurrence_id():
    occurrences, _ = read(fixture("issue_62_moved_event.ics"), utc(2021, 12, 1), utc(2022, 1, 5))
    [moved] = occurrences
    assert moved.start == utc(2021, 12, 17, 20, 30)
    assert moved.recurrence_id == "20211231T203000Z"


def test_ten_thousand_occurrences_in_a_day_are_refused_alone():
    start = datetime(2026, 11, 24, 0, 0, tzinfo=PARIS)
    ics = booking_ics("storm", start, start + timedelta(seconds=5),
                      rrule={"FREQ": "SECONDLY", "COUNT": 10000})
    occurrences, unreadable = read(ics, utc(2026, 11, 23), utc(2026, 11, 25))
    assert occurrences == []
    assert unreadable[0].reason == ("the event repeats with FREQ=SECONDLY; a booking may repeat at "
                                    "most daily (DAILY, WEEKLY, MONTHLY or YEARLY)")


def test_too_large_an_object_is_refused():
    start = datetime(2026, 11, 24, 9, tzinfo=PARIS)
    ics = booking_ics("big", start, start + timedelta(hours=1), summary="x" * 1_000_000)
    occurrences, unreadable = read(ics)
    assert occurrences == []
    assert "more than the 262144 allowed" in unreadable[0].reason
    assert unreadable[0].uid == "big"


@pytest.mark.parametrize("name, reason", [
    ("end_before_start_event.ics", "the event ends before it starts"),
    ("broken_dtstart.ics", "the event's start or end cannot be read"),
    ("invalid_duration.ics", "is not a duration"),
    ("pacific_fiji.ics", "the event has more than one DTSTART"),
    ("fuzz_testcase_invalid_month.ics", "not valid iCalendar"),
    ("issue_165_missing_event.ics", "the event has no UID"),
])
def test_broken_real_world_files_are_refused_with_a_reason(name, reason):
    occurrences, unreadable = read(fixture(name))
    assert occurrences == []
    assert reason in unreadable[0].reason


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.ics")), ids=lambda p: p.name)
def test_every_real_world_file_parses_or_is_refused(path):
    occurrences, unreadable = read(path.read_bytes(), max_occurrences=5000, max_bytes=200_000)
    for o in occurrences:
        assert o.start.tzinfo is UTC and o.end >= o.start
    for item in unreadable:
        assert item.reason


@pytest.mark.parametrize("name, expected", [
    ("america_new_york.ics", utc(2014, 8, 29, 12)),
    ("issue_218_bad_tzid.ics", utc(2017, 2, 28, 12)),
    ("duration_edited.ics", utc(2019, 3, 18, 3)),
    ("discourse_no_dtend.ics", utc(2019, 1, 17, 17, 0, 25)),
])
def test_real_world_times_are_right(name, expected):
    occurrences, _ = read(fixture(name))
    assert min(o.start for o in occurrences) == expected


def test_an_unreadable_event_carries_its_own_times():
    start = datetime(2026, 11, 24, 9, tzinfo=PARIS)
    backwards = booking_ics("back", start, start - timedelta(hours=1))
    [item] = read(backwards)[1]
    assert item.reason == "the event ends before it starts"
    assert (item.start, item.end) == (utc(2026, 11, 24, 8), utc(2026, 11, 24, 8))  # end unreadable

    big = booking_ics("big", start, start + timedelta(hours=1), summary="x" * 300_000)
    [item] = read(big)[1]
    assert "more than the 262144 allowed" in item.reason
    assert (item.start, item.end) == (utc(2026, 11, 24, 8), None)  # from the raw DTSTART line

    broken = booking_ics("broken", start, start + timedelta(hours=1)).replace(
        "END:VCALENDAR", "BEGIN:VEVENT\r\nEND:VCALENDAR")
    [item] = read(broken)[1]
    assert item.reason.startswith("not valid iCalendar") and item.start == utc(2026, 11, 24, 8)


def test_an_unreadable_event_without_a_readable_start_has_no_times():
    [item] = read(fixture("broken_dtstart.ics"))[1]
    assert (item.start, item.end) == (None, None)
