"""The decision, pure: bookings + status + ledger -> switches, releases and statuses."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calendar_bridge.booking import Booking, Refusal
from calendar_bridge.decide import booking_hash, decide, running
from calendar_bridge.ledger import Row
from calendar_bridge.occurrences import Occurrence

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
HORIZON = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def booking(uid, board="jtk1", image="alice/cuda-dev", user="alice", start=8, hours=9, created=""):
    o = Occurrence(calendar_url="http://dav/c/", href=f"http://dav/c/{uid}.ics", uid=uid, recurrence_id="",
                   start=datetime(2026, 11, 24, start, tzinfo=UTC),
                   end=datetime(2026, 11, 24, start, tzinfo=UTC) + timedelta(hours=hours), all_day=False,
                   summary=f"{board} {image}", location="", description="", status="CONFIRMED",
                   has_attendees=False, created=created)
    return Booking(occurrence=o, user=user, board=board, image=image)


def row(b, status, first_seen="2026-11-20T00:00:00+00:00", end=None, digest=None):
    o = b.occurrence
    return Row(key=b.key, calendar_url=o.calendar_url, href=o.href, uid=o.uid, recurrence_id="",
               first_seen=first_seen, hash=digest or booking_hash(b), user=b.user, board=b.board,
               image=b.image, start=o.start.isoformat(), end=(end or o.end).isoformat(), status=status,
               reason="", jid="", written="", updated="")


def run(bookings=(), refusals=(), status=None, rows=(), unread=()):
    rows = {r.key: r for r in rows}
    return decide(NOW, HORIZON, list(bookings), list(refusals), status or {}, rows,
                  {k: r.first_seen for k, r in rows.items()}, PARIS, unread=unread)


def statuses(plan):
    return {m.key.split("|")[1]: (m.status, m.reason) for m in plan.marks}


def test_two_bookings_tonight_switch_together():
    plan = run([booking("a"), booking("b", board="jtk2", user="bob", image="bob/ros")])
    assert {b: (k.image, k.user) for b, k in plan.switch.items()} == {
        "jtk1": ("alice/cuda-dev", "alice"), "jtk2": ("bob/ros", "bob")}
    assert plan.marks == []


def test_already_running_is_ready_once_then_left_alone():
    b = booking("a")
    status = {"jtk1": {"state": "up", "image": "alice/cuda-dev", "user": "alice"}}
    plan = run([b], status=status)
    assert plan.switch == {} and statuses(plan) == {"a": ("ready", "")}
    again = run([b], status=status, rows=[row(b, "ready")])
    assert again.switch == {} and again.marks == [] and again.unchanged == 1


def test_failed_booking_is_not_retried_until_edited():
    b = booking("a")
    status = {"jtk1": {"state": "up", "image": "admin/l4t-base"}}
    assert run([b], status=status, rows=[row(b, "failed")]).switch == {}
    edited = booking("a", image="alice/other")
    assert list(run([edited], status=status, rows=[row(b, "failed")]).switch) == ["jtk1"]


def test_overlap_first_seen_keeps_the_board():
    early = booking("early", start=8)
    late = booking("late", user="bob", image="bob/ros", start=10)
    rows = [row(late, "scheduled", first_seen="2026-11-01T00:00:00+00:00"),
            row(early, "scheduled", first_seen="2026-11-02T00:00:00+00:00")]
    plan = run([early, late], rows=rows)
    assert plan.switch["jtk1"].key == late.key
    status, reason = statuses(plan)["early"]
    assert status == "conflict"
    assert reason == "jtk1 is already booked by bob from 2026-11-24 11:00 to 2026-11-24 20:00 (booked first)"


def test_back_to_back_slots_wait_for_each_other():
    first, second = booking("first", hours=2), booking("second", user="bob", image="bob/ros", start=10)
    plan = run([first, second])
    assert plan.switch["jtk1"].key == first.key
    assert statuses(plan)["second"][0] == "scheduled"


def test_ended_slot_is_released():
    ended = booking("gone", start=0, hours=0.25)
    status = {"jtk1": {"state": "up", "image": "alice/cuda-dev"}}
    plan = run([], status=status, rows=[row(ended, "ready")])
    assert list(plan.release) == ["jtk1"]
    assert statuses(plan) == {"gone": ("released", "the slot has ended")}


def test_ended_slot_of_a_board_that_answers_no_ping_is_released_but_not_while_it_switches():
    ended = booking("gone", start=0, hours=0.25)
    down = {"jtk1": {"state": "down", "image": "alice/cuda-dev"}}
    assert list(run([], status=down, rows=[row(ended, "ready")]).release) == ["jtk1"]
    switching = {"jtk1": {"state": "switching", "image": "alice/cuda-dev"}}
    assert run([], status=switching, rows=[row(ended, "ready")]).release == {}


def test_deleted_booking_releases_but_unread_calendar_keeps_the_board():
    b = booking("a")
    status = {"jtk1": {"state": "up", "image": "alice/cuda-dev"}}
    plan = run([], status=status, rows=[row(b, "ready")])
    assert list(plan.release) == ["jtk1"]
    assert statuses(plan)["a"] == ("released", "the booking was moved, edited or deleted")
    kept = run([], status=status, rows=[row(b, "ready")], unread={"http://dav/c/"})
    assert kept.release == {} and kept.marks == []


def test_next_booking_takes_over_without_a_release():
    ended = booking("old", start=0, hours=0.25)
    new = booking("new", user="bob", image="bob/ros")
    status = {"jtk1": {"state": "up", "image": "alice/cuda-dev"}}
    plan = run([new], status=status, rows=[row(ended, "ready")])
    assert plan.release == {} and list(plan.switch) == ["jtk1"]


def test_quarantined_and_switching_boards():
    b = booking("a")
    assert statuses(run([b], status={"jtk1": {"state": "quarantined"}}))["a"][0] == "failed"
    assert run([b], status={"jtk1": {"state": "switching"}}).switch == {}


def test_refusal_written_once():
    b = booking("bad")
    refusal = Refusal(occurrence=b.occurrence, reason="unknown board 'jtk9'", user="alice")
    plan = run(refusals=[refusal])
    assert statuses(plan) == {"bad": ("rejected", "unknown board 'jtk9'")}
    mark = plan.marks[0]
    again = run(refusals=[refusal], rows=[row(b, "rejected", digest=mark.hash)])
    assert again.marks == []


def test_slot_beyond_the_horizon_waits():
    tomorrow = booking("t", start=23, hours=2)
    assert run([tomorrow]).switch == {}


def test_a_board_on_the_users_copy_of_the_booked_template_runs_the_booking():
    b = booking("a", image="admin/l4t-base")
    on_copy = {"jtk1": {"state": "up", "image": "alice/l4t-base", "user": "alice"}}
    plan = run([b], status=on_copy)
    assert plan.switch == {} and statuses(plan) == {
        "a": ("ready", "on alice/l4t-base, your own copy of admin/l4t-base")}
    # bob's copy, or another image of the name, is not alice's booking: switch.
    for image in ("bob/l4t-base", "admin/l4t-base-jtk1"):
        assert set(run([b], status={"jtk1": {"state": "up", "image": image}}).switch) == {"jtk1"}
    ended = row(b, "ready", end=NOW - timedelta(hours=1))
    assert set(run([], status=on_copy, rows=[ended]).release) == {"jtk1"}
    assert running({"image": "admin/l4t-base"}, "admin", "admin/l4t-base") == "admin/l4t-base"
    assert running({"image": "admin/l4t-base"}, "alice", "alice/l4t-base") is None
    assert running({}, "alice", "admin/l4t-base") is None
