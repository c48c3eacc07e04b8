"""Parsing bookings (docs/architecture.md, "Bookings") and refusing hostile ones, each with its reason."""

from datetime import UTC, datetime, timedelta

import pytest

from calendar_bridge.booking import Booking, Refusal, parse_booking
from calendar_bridge.config import CalendarSpec
from calendar_bridge.occurrences import Occurrence
from jetson_farm.inventory import Inventory
from tests.conftest import make_pillar

OWNER = CalendarSpec(url="http://dav/alice/boards/", trust="owner", owner="alice")
SHARED = CalendarSpec(url="http://dav/lab/shared/", trust="summary")
START = datetime(2026, 11, 24, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def inventory():
    pillar = make_pillar("/var/tmp/jetson-farm-tests/unit")
    pillar["images"]["bob/secret-os"] = {"shared": False}
    pillar["images"]["admin/ros"] = {"shared": ["alice"]}
    return Inventory.load(pillar)


def occ(summary="", location="", description="", end=START + timedelta(hours=9)):
    return Occurrence(calendar_url=OWNER.url, href=OWNER.url + "e.ics", uid="u1", recurrence_id="",
                      start=START, end=end, all_day=False, summary=summary, location=location,
                      description=description, status="CONFIRMED", has_attendees=False)


def booked(result):
    assert isinstance(result, Booking), result
    return (result.user, result.board, result.image)


def refused(result):
    assert isinstance(result, Refusal), result
    return result.reason


def test_summary_board_and_image_with_free_text(inventory):
    assert booked(parse_booking(occ("jtk1 cuda-dev for the CUDA demo"), OWNER, inventory)) == (
        "alice", "jtk1", "alice/cuda-dev")


def test_location_board_summary_image(inventory):
    assert booked(parse_booking(occ("cuda-dev", location="jtk2"), OWNER, inventory)) == (
        "alice", "jtk2", "alice/cuda-dev")


def test_description_lines_win_and_html_status_block_is_ignored(inventory):
    description = "[jetson-farm] ready 01:07 — ssh\n\nnotes\nBoard: jtk2\nimage: admin/l4t-base"
    assert booked(parse_booking(occ("jtk1 cuda-dev", description=description), OWNER, inventory)) == (
        "alice", "jtk2", "admin/l4t-base")


def test_shared_images_by_short_name_and_by_list(inventory):
    assert booked(parse_booking(occ("jtk1 l4t-base"), OWNER, inventory))[2] == "admin/l4t-base"
    assert booked(parse_booking(occ("jtk1 admin/ros"), OWNER, inventory))[2] == "admin/ros"


def test_trust_summary_names_the_user(inventory):
    assert booked(parse_booking(occ("bob: jtk1 l4t-base"), SHARED, inventory)) == (
        "bob", "jtk1", "admin/l4t-base")
    assert booked(parse_booking(occ("jtk2 ros", description="user: alice"), SHARED, inventory)) == (
        "alice", "jtk2", "admin/ros")
    assert "needs the user" in refused(parse_booking(occ("jtk1 l4t-base"), SHARED, inventory))


def test_owner_calendar_cannot_book_for_someone_else(inventory):
    reason = refused(parse_booking(occ("jtk1 cuda-dev", description="user: bob"), OWNER, inventory))
    assert reason == "this calendar is alice's; a booking in it cannot be for 'bob'"


@pytest.mark.parametrize("summary, part", [
    ("../../etc cuda-dev", "invalid board name '../../etc'"),
    ("jtk1 ../../../root", "invalid image '../../../root'"),
    ("jtk1 $(reboot)", "invalid image name '$(reboot)'"),
    ("jtk1;rm cuda-dev", "invalid board name 'jtk1;rm'"),
    ("jtk1 cuda`id`", "invalid image name 'cuda`id`'"),
    ("jtk1\x07 cuda-dev", "SUMMARY contains control characters"),
    ("jtk9 cuda-dev", "unknown board 'jtk9'"),
    ("jtk1 bob/secret-os", "user 'alice' may not boot 'bob/secret-os'"),
    ("jtk1 " + "x" * 1_000_000, "SUMMARY is 1000005 characters long, more than the 1000 allowed"),
    ("", "no board named"),
    ("jtk1", "no image named for board 'jtk1'"),
])
def test_hostile_and_wrong_events_are_refused_with_the_reason(inventory, summary, part):
    assert part in refused(parse_booking(occ(summary), OWNER, inventory))


def test_a_booking_needs_a_length(inventory):
    reason = refused(parse_booking(occ("jtk1 cuda-dev", end=START), OWNER, inventory))
    assert reason == "the booking has no length: give it an end time or a duration"


def test_unknown_user_calendar_is_refused(inventory):
    spec = CalendarSpec(url="http://dav/mallory/boards/", trust="owner", owner="mallory")
    assert "unknown user 'mallory'" in refused(parse_booking(occ("jtk1 cuda-dev"), spec, inventory))


@pytest.mark.parametrize("summary, location, field", [
    ("jtk1 cuda-dev\nimage: bob/secret-os", "", "SUMMARY"),  # SUMMARY:jtk1 cuda-dev\nimage: ...
    ("cuda-dev", "jtk1\nboard: jtk2", "LOCATION"),
    ("jtk1 cuda-dev\u2028image: bob/secret-os", "", "SUMMARY"),  # a line break to str.splitlines
    ("jtk1 cuda-dev\rimage: bob/secret-os", "", "SUMMARY"),
])
def test_a_line_break_in_the_title_or_location_is_refused_naming_the_field(inventory, summary,
                                                                            location, field):
    reason = refused(parse_booking(occ(summary, location), OWNER, inventory))
    assert reason == f"{field} contains a line break; write it on one line"


def test_a_line_break_in_the_description_stays_allowed(inventory):
    result = parse_booking(occ("my slot", description="board: jtk1\nimage: cuda-dev\nnotes"),
                           OWNER, inventory)
    assert booked(result) == ("alice", "jtk1", "alice/cuda-dev")
