"""The decision: bookings + the farm's state + the ledger -> a plan. Pure; nothing is called.

- a board whose (winning) booking starts within the lead time and does not run it: switch;
- a board still running the image of a booking that has ended, moved or gone: release;
- what is already right is left alone, and a status already given is not given again.

Two bookings of one board that overlap: the one the ledger saw first keeps it.
"""

from dataclasses import dataclass, field
from datetime import UTC

from calendar_bridge.booking import Booking, Refusal
from calendar_bridge.ledger import request_hash

SCHEDULED, READY, FAILED, CONFLICT, REJECTED, RELEASED = (
    "scheduled", "ready", "failed", "conflict", "rejected", "released")
ACTIVE = (SCHEDULED, READY)


@dataclass(frozen=True)
class Mark:
    """Give occurrence ``key`` the status ``status`` (and tell its user)."""

    key: str
    status: str
    reason: str
    hash: str
    booking: Booking | None = None
    refusal: Refusal | None = None
    row: object = None  # a ledger Row, for occurrences no longer read


@dataclass
class Plan:
    now: object
    horizon: object
    switch: dict = field(default_factory=dict)  # board -> Booking
    release: dict = field(default_factory=dict)  # board -> ledger Row of the slot that ended
    marks: list = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self):
        return {
            "now": self.now.isoformat(),
            "horizon": self.horizon.isoformat(),
            "switch": {b: {"image": k.image, "user": k.user, "start": k.occurrence.start.isoformat(),
                           "end": k.occurrence.end.isoformat()} for b, k in sorted(self.switch.items())},
            "release": sorted(self.release),
            "marks": [{"key": m.key, "status": m.status, "reason": m.reason} for m in self.marks],
            "unchanged": self.unchanged,
        }


def booking_hash(booking):
    o = booking.occurrence
    return request_hash(booking.user, booking.board, booking.image, o.start.isoformat(),
                        o.end.isoformat(), o.status)


def refusal_hash(refusal):
    o = refusal.occurrence
    return request_hash("refused", refusal.reason, o.start.isoformat(), o.end.isoformat(), o.status)


def running(board_status, user, image):
    """The image of ``board_status`` if the board runs ``image`` for ``user``: the image itself,
    or ``user``'s working copy of it when it is another user's shared image (a template; the
    switch boots ``<user>/<name>``, docs/architecture.md "The site server"); else None."""
    on = board_status.get("image")
    owner, _, name = (image or "").partition("/")
    if on and (on == image or (owner != user and on == f"{user}/{name}")):
        return on
    return None


def _local(when, zone):
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _overlaps(a, b):
    return a.occurrence.start < b.occurrence.end and b.occurrence.start < a.occurrence.end


def _changed(row, status, digest):
    return row is None or row.status != status or row.hash != digest


def split_conflicts(bookings, first_seen, zone):
    """``(accepted, conflicts)``: per board, the earlier-seen booking keeps an overlapping slot.

    ``conflicts`` is a list of ``(booking, reason)``.
    """
    def order(b):
        return (first_seen.get(b.key, "9999"), b.occurrence.created or "~", b.occurrence.start, b.key)

    accepted, conflicts = [], []
    for booking in sorted(bookings, key=order):
        holder = next((a for a in accepted if a.board == booking.board and _overlaps(a, booking)), None)
        if holder is None:
            accepted.append(booking)
            continue
        o = holder.occurrence
        conflicts.append((booking, f"{booking.board} is already booked by {holder.user} from "
                                   f"{_local(o.start, zone)} to {_local(o.end, zone)} (booked first)"))
    return accepted, conflicts


def decide(now, horizon, bookings, refusals, status, ledger_rows, first_seen, zone, unread=()):
    """The :class:`Plan` for this run.

    ``now``/``horizon``: aware datetimes (a slot starting before ``horizon`` is switched now);
    ``status``: ``jetson.status`` (board -> {image, user, state...}); ``ledger_rows``: key -> Row;
    ``first_seen``: key -> ISO time the ledger first saw the occurrence; ``unread``: calendar
    URLs that did not answer (their bookings keep their boards).
    """
    now, horizon = now.astimezone(UTC), horizon.astimezone(UTC)
    plan = Plan(now=now, horizon=horizon)

    def mark(key, status_, reason, digest, **kwargs):
        if _changed(ledger_rows.get(key), status_, digest):
            plan.marks.append(Mark(key, status_, reason, digest, **kwargs))
        else:
            plan.unchanged += 1

    for refusal in refusals:
        mark(refusal.key, REJECTED, refusal.reason, refusal_hash(refusal), refusal=refusal)

    # Bookings past the horizon are read too: they are first seen early and told of a conflict
    # early, but only those starting before the horizon are acted on.
    live = [b for b in bookings if b.occurrence.end > now]
    accepted, conflicts = split_conflicts(live, first_seen, zone)
    for booking, reason in conflicts:
        mark(booking.key, CONFLICT, reason, booking_hash(booking), booking=booking)

    current = {}
    due = [b for b in accepted if b.occurrence.start < horizon]
    for booking in sorted(due, key=lambda b: b.occurrence.start):
        if booking.board not in current:
            current[booking.board] = booking
        else:
            before = current[booking.board]
            mark(booking.key, SCHEDULED, f"waits for the slot of {before.user} ending "
                 f"{_local(before.occurrence.end, zone)}", booking_hash(booking), booking=booking)

    for board, booking in sorted(current.items()):
        _decide_board(plan, mark, booking, status.get(board) or {}, ledger_rows.get(booking.key))

    held = {b.key for b in due}
    for row in sorted(ledger_rows.values(), key=lambda r: r.key):
        if row.status not in ACTIVE or row.key in held or row.calendar_url in unread:
            continue
        _release_row(plan, row, current, status.get(row.board) or {}, now)
    return plan


def _decide_board(plan, mark, booking, board_status, row):
    digest = booking_hash(booking)
    state = board_status.get("state")
    on = running(board_status, booking.user, booking.image)
    if state == "up" and on:
        mark(booking.key, READY, "" if on == booking.image else f"on {on}, your own copy of {booking.image}",
             digest, booking=booking)
    elif state == "switching":
        mark(booking.key, SCHEDULED, "the board is switching now", digest, booking=booking)
    elif state == "quarantined":
        mark(booking.key, FAILED, f"{booking.board} is quarantined; the admins have been told",
             digest, booking=booking)
    elif row is not None and row.hash == digest and row.status == FAILED:
        plan.unchanged += 1  # failed once for this very request: edit the booking to try again
    else:
        plan.switch[booking.board] = booking


def _release_row(plan, row, current, board_status, now):
    """``row`` held its board and no longer does: give the board back unless a booking takes it."""
    ended = row.end_dt is not None and row.end_dt <= now
    reason = "the slot has ended" if ended else "the booking was moved, edited or deleted"
    # A board that does not answer ping ("down") still holds the user's image at its nfsroot: it
    # is given back all the same (the switch powers it on); one switching or quarantined is not.
    runs_it = running(board_status, row.user, row.image) and board_status.get("state") in ("up", "failed",
                                                                                           "down")
    if row.board not in current and runs_it and row.board not in plan.release:
        plan.release[row.board] = row
    if all(m.key != row.key for m in plan.marks):  # a new status (rejected, conflict) wins
        plan.marks.append(Mark(row.key, RELEASED, reason, row.hash, row=row))
