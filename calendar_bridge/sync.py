"""One run of the bridge: read, decide, act through Salt, record, write back, tell people.

``Bridge.prepare(now)`` reads and decides (nothing changes); ``Bridge.execute(run)`` acts on it.
``sync`` is both; ``--dry-run`` is only the first.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from calendar_bridge import decide as D
from calendar_bridge.errors import CalendarError, SaltError
from calendar_bridge.mail import compose, compose_admin
from calendar_bridge.reader import read_calendars
from calendar_bridge.salt_gateway import board_errors, boards_verified
from calendar_bridge.text import one_line
from calendar_bridge.writeback import TargetMissing, apply_status, status_block
from jetson_farm.errors import JetsonError
from jetson_farm.names import image_ref, parse_image
from jetson_farm.rootfs.templates import copy_for

log = logging.getLogger(__name__)

WRITTEN_STATUSES = (D.SCHEDULED, D.READY, D.FAILED, D.CONFLICT, D.REJECTED, D.RELEASED)
USER_MAIL = (D.READY, D.FAILED, D.CONFLICT, D.REJECTED)


def horizon_for(now, lead_time, zone):
    """Slots starting before this are switched now: ``now + lead_time``, or with the nightly
    default (``lead_time`` None) the end of the farm-local day that ``now`` is in."""
    if lead_time is not None:
        return now + lead_time
    local_day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(local_day, time(0), tzinfo=zone)


@dataclass
class Run:
    now: datetime
    horizon: datetime
    reading: object
    status: dict
    plan: object
    outcomes: list = field(default_factory=list)  # Marks decided after Salt answered
    jids: list = field(default_factory=list)
    outcome_jids: dict = field(default_factory=dict)  # occurrence key -> jid of its switch
    errors: list = field(default_factory=list)
    copies: list = field(default_factory=list)  # the bookings whose user needs a working copy
    copied: list = field(default_factory=list)  # what making them answered, one dict per copy
    bookings: list = field(default_factory=list)  # what the sites are told is booked (push_list)
    pushed: dict = field(default_factory=dict)  # site -> what its set_bookings answered
    written: int = 0
    pending: int = 0


class Bridge:
    """The bridge with its doors: ``store`` (CalDAV), ``salt``, ``ledger``, ``mailer``."""

    def __init__(self, config, inventory, store, salt, ledger, mailer):
        self.config, self.inventory = config, inventory
        self.store, self.salt, self.ledger, self.mailer = store, salt, ledger, mailer
        self.zone = ZoneInfo(config.timezone or inventory.timezone)

    # -- reading and deciding ----------------------------------------------------------------

    def prepare(self, now):
        """Read the calendars and the farm's state and decide; nothing is changed."""
        horizon = horizon_for(now, self.config.lead_time, self.zone)
        read_until = max(horizon, now + self.config.lookahead)
        reading = read_calendars(self.config, self.inventory, self.store, self.zone, now, read_until)
        status = self.salt.status()
        rows = self.ledger.rows()
        first_seen = {key: row.first_seen for key, row in rows.items()}
        plan = D.decide(now, horizon, reading.bookings, reading.refusals, status, rows, first_seen,
                        self.zone, unread=reading.unread)
        live = [b for b in reading.bookings if b.occurrence.end > now]
        accepted, _ = D.split_conflicts(live, first_seen, self.zone)
        return Run(now=now, horizon=horizon, reading=reading, status=status, plan=plan,
                   errors=list(reading.errors), copies=self.copies_needed(accepted),
                   bookings=self.push_list(now, accepted, rows, reading.unread))

    def push_list(self, now, accepted, rows, unread):
        """What every site is told is booked: each booking not yet ended that keeps its board
        (its image, and for a shared image booked by another user their working copy too), and
        the bookings the bridge acted on in a calendar that did not answer this time."""
        items = [(b.board, b.user, b.image, b.occurrence.start, b.occurrence.end) for b in accepted]
        items += [(r.board, r.user, r.image, r.start_dt, r.end_dt) for r in rows.values()
                  if r.calendar_url in unread and r.status in D.ACTIVE and r.image and r.start
                  and r.board in self.inventory.boards and r.end_dt and r.end_dt > now]
        pushed = []
        for board, user, image, start, end in items:
            copy = copy_for(self.inventory, user, image)
            for name in (image, copy) if copy else (image,):
                pushed.append({"board": board, "user": user, "image": name,
                               "start": start.isoformat(), "end": end.isoformat()})
        return pushed

    def copies_needed(self, accepted):
        """The bookings (one per working copy, the soonest) of a shared image by a user who boots
        their own copy of it: made at this sync, ahead of the slot, so the switch never waits."""
        needed = {}
        for booking in sorted(accepted, key=lambda b: b.occurrence.start):
            copy = copy_for(self.inventory, booking.user, booking.image)
            if copy and copy not in needed:
                needed[copy] = booking
        return list(needed.values())

    # -- acting ------------------------------------------------------------------------------

    def execute(self, run):
        """Act on ``run``'s plan; returns ``run`` with its outcomes."""
        for item in run.reading.bookings + run.reading.refusals:
            self.ledger.see(item.occurrence, run.now)
        self._push_bookings(run)
        if run.copies:
            self._make_copies(run)
        if run.plan.switch:
            self._switch(run)
        if run.plan.release:
            self._release(run)
        for mark in run.plan.marks + run.outcomes:
            self._record(run, mark)
        self._write_back(run)
        return run

    def _make_copies(self, run):
        """Have the farm make (or find) every working copy of ``run.copies``, before any switch."""
        items = [{"template": b.image, "user": b.user, "board": b.board} for b in run.copies]
        for b in run.copies:
            log.info("working copy %s of %s for %s on %s from %s: asking the farm", working_copy(b),
                     b.image, b.user, b.board, _local_time(b, self.zone))
        try:
            result = self.salt.copies(items)
        except SaltError as err:
            run.errors.append(f"the working copies could not be made: {err}")
            log.error("the working copies could not be made: %s", err)
            return
        for b in run.copies:
            copy = working_copy(b)
            item = {"image": copy, "template": b.image, "board": b.board, "user": b.user,
                    "start": b.occurrence.start.isoformat()}
            if copy in (result.get("done") or {}):
                item.update(result["done"][copy], ok=True)
                log.info("working copy %s: %s", copy, item.get("comment"))
            else:
                reason = (result.get("failed") or {}).get(copy, "no answer")
                item.update(ok=False, comment=reason)
                run.errors.append(f"working copy {copy} of {b.image} (booked on {b.board}): {reason}")
                log.error("working copy %s of %s: %s", copy, b.image, reason)
            run.copied.append(item)

    def _push_bookings(self, run):
        """Tell every site what is booked (it then refuses to remove a booked image, user or
        board); a failure is reported and the sync goes on."""
        try:
            result = self.salt.set_bookings(run.bookings)
        except SaltError as err:
            run.errors.append(f"the bookings could not be pushed to the sites: {err}")
            log.error("the bookings could not be pushed to the sites: %s", err)
            return
        run.pushed = result["sites"]
        for site, reason in sorted(result["failed"].items()):
            run.errors.append(f"site {site}: the bookings could not be pushed: {reason}")
            log.error("site %s: the bookings could not be pushed: %s", site, reason)
        log.info("pushed %d bookings to the sites %s", len(run.bookings), ", ".join(sorted(run.pushed)))

    def _switch(self, run):
        boards = {b: {"image": k.image, "user": k.user} for b, k in run.plan.switch.items()}
        try:
            result = self.salt.switch(boards)
            after = self.salt.status()
        except SaltError as err:
            run.errors.append(str(err))
            log.error("the switch of %s could not be run: %s", ", ".join(sorted(boards)), err)
            return  # nothing recorded: the next run tries again
        run.jids.append(result["jid"])
        errors = board_errors(result.get("return"))
        verified = boards_verified(result.get("return"))
        for board, booking in sorted(run.plan.switch.items()):
            status, reason = _switch_outcome(booking, after.get(board) or {}, errors.get(board),
                                             verified=board in verified)
            run.outcomes.append(D.Mark(booking.key, status, reason, D.booking_hash(booking),
                                       booking=booking))
            run.outcome_jids[booking.key] = result["jid"]

    def _release(self, run):
        try:
            result = self.salt.release(sorted(run.plan.release))
        except SaltError as err:
            run.errors.append(str(err))
            log.error("the release of %s could not be run: %s", ", ".join(sorted(run.plan.release)), err)
            return
        run.jids.append(result["jid"])
        if not result["success"]:
            run.errors.append(f"jetson.release of {', '.join(sorted(run.plan.release))} failed "
                              f"(jid {result['jid']})")

    def _record(self, run, mark):
        request = {}
        if mark.booking is not None:
            o = mark.booking.occurrence
            request = {"user": mark.booking.user, "board": mark.booking.board,
                       "image": mark.booking.image, "start": o.start, "end": o.end, "href": o.href}
        elif mark.refusal is not None:
            request = {"user": mark.refusal.user, "board": "", "image": "",
                       "href": mark.refusal.occurrence.href}
        self.ledger.record(mark.key, run.now, status=mark.status, reason=mark.reason, hash=mark.hash,
                           jid=run.outcome_jids.get(mark.key), **request)
        self._tell(run, mark)

    def _tell(self, run, mark):
        if mark.status not in USER_MAIL:
            return
        row = mark.row
        user = mark.booking.user if mark.booking else (mark.refusal.user if mark.refusal else row.user)
        what, slot = _describe(mark, row, self.zone)
        ssh = self.ssh_line(mark.booking) if mark.booking else ""
        try:
            email = self.inventory.user(user).email if user else ""
        except JetsonError:
            email = ""
        self.mailer.send([email], *compose(mark.status, what, mark.reason, ssh, slot))
        if mark.status == D.FAILED:
            admins = [u.email for u in self.inventory.users.values() if u.admin and u.email]
            self.mailer.send(admins + list(self.config.smtp.admins),
                             *compose_admin(mark.status, what, mark.reason, slot))

    def ssh_line(self, booking):
        board = self.inventory.board(booking.board)
        site = self.inventory.site(board.site)
        return self.config.ssh_line.format(user=booking.user, site=site.minion, board=board.name,
                                           ip=board.ip)

    # -- writing back ------------------------------------------------------------------------

    def _write_back(self, run):
        """Write every status the events do not carry yet, one save per object."""
        todo = {}
        for row in self.ledger.rows().values():
            if row.status in WRITTEN_STATUSES and row.written != row.written_as() and row.href:
                if row.calendar_url in run.reading.unread:
                    continue
                todo.setdefault(row.href, []).append(row)
        for href, rows in sorted(todo.items()):
            try:
                self._write_object(run, href, rows)
            except CalendarError as err:
                run.errors.append(str(err))
                run.pending += len(rows)

    def _write_object(self, run, href, rows):
        raw = run.reading.objects.get(href) or self.store.get(rows[0].calendar_url, href)
        if raw is None:
            for row in rows:  # the event is gone: nothing left to write on
                self.ledger.mark_written(row.key, row.written_as())
            return
        text = raw.data
        for row in rows:
            at = run.now.astimezone(self.zone).strftime("%H:%M")
            ssh = ""
            if row.status == D.READY:
                ssh = self.config.ssh_line.format(
                    user=row.user, site=self.inventory.site(self.inventory.board(row.board).site).minion,
                    board=row.board, ip=self.inventory.board(row.board).ip)
            block = status_block(row.status, row.reason, at, ssh)
            try:
                text = apply_status(text, row.uid, row.recurrence_id, self.zone, row.status,
                                    row.reason, block)
            except (TargetMissing, ValueError) as err:
                log.info("cannot write the status of %s: %s", row.key, err)
        if self.store.save(raw, text):
            for row in rows:
                self.ledger.mark_written(row.key, row.written_as())
            run.written += len(rows)
        else:
            run.pending += len(rows)


def _switch_outcome(booking, board_status, error=None, verified=False):
    state, image = board_status.get("state"), board_status.get("image")
    on = D.running(board_status, booking.user, booking.image)
    # "down" here may be a minion too slow for jetson.status's short ping (a board still busy
    # after its boot); the engine's own check of the switch's marker a moment ago outweighs it.
    if on and (state == "up" or (state == "down" and verified)):
        return D.READY, "" if on == booking.image else f"on {on}, your own copy of {booking.image}"
    why = f": {error}" if error else f" (the board is {state})"
    if state in ("failed", "quarantined"):
        return D.FAILED, f"the switch of {booking.board} to {booking.image} failed{why}; " \
                         "the admins have been told"
    if state == "switching":
        return D.SCHEDULED, f"{booking.board} is still switching"
    return D.FAILED, (f"{booking.board} did not come up with {booking.image} "
                      f"(state {state or 'unknown'}, image {image or 'none'})"
                      + (f": {error}" if error else ""))


def working_copy(booking):
    """The working copy ``<user>/<name>`` a booking of another user's template boots."""
    return image_ref(booking.user, parse_image(booking.image)[1])


def _local_time(booking, zone):
    return f"{booking.occurrence.start.astimezone(zone):%a %Y-%m-%d %H:%M}"


def _describe(mark, row, zone):
    if mark.booking is not None:
        o = mark.booking.occurrence
        what = f"{mark.booking.board} {mark.booking.image}"
    else:
        o = mark.refusal.occurrence if mark.refusal else None
        # a refused title may hold what a mail header cannot (a line break): one line of it
        what = (one_line(o.summary, 80) if o and o.summary else "") or (row.uid if row else "")
    if o is None or not o.times_known:
        return what, "unknown time"
    if o.start == o.end:  # an unreadable event whose end could not be read
        return what, f"from {o.start.astimezone(zone):%a %Y-%m-%d %H:%M}"
    return what, (f"{o.start.astimezone(zone):%a %Y-%m-%d %H:%M} to "
                  f"{o.end.astimezone(zone):%a %Y-%m-%d %H:%M}")


def summary_of(run, dry_run=False):
    """The run as a dict (for --json) and its one-line summary."""
    counts = {}
    for mark in run.plan.marks + run.outcomes:
        counts[mark.status] = counts.get(mark.status, 0) + 1
    failed = counts.get(D.FAILED, 0)
    data = {
        "dry_run": dry_run,
        "plan": run.plan.as_dict(),
        "bookings": len(run.reading.bookings),
        "refused": len(run.reading.refusals),
        "outcomes": [{"key": m.key, "status": m.status, "reason": m.reason} for m in run.outcomes],
        "counts": counts,
        "jids": run.jids,
        "copies": run.copied,
        "copies_needed": [{"image": working_copy(b), "template": b.image,
                           "user": b.user, "board": b.board, "start": b.occurrence.start.isoformat()}
                          for b in run.copies],
        "booked": run.bookings,
        "sites_told": run.pushed,
        "errors": run.errors,
        "written": run.written,
        "pending": run.pending,
        "failed": failed,
    }
    line = (f"{'dry run' if dry_run else 'sync'} at {run.now.isoformat()}: "
            f"{len(run.reading.bookings)} bookings, {len(run.reading.refusals)} refused; "
            + (f"copies {sum(1 for c in run.copied if c['ok'] and c.get('made'))} made, "
               f"{sum(1 for c in run.copied if c['ok'] and not c.get('made'))} ready; " if run.copied else "")
            + f"switch {len(run.plan.switch)}, release {len(run.plan.release)}; "
            + "".join(f"{k} {v}, " for k, v in sorted(counts.items()))
            + f"unchanged {run.plan.unchanged}; written {run.written}, pending {run.pending}"
            + (f"; {len(run.errors)} errors" if run.errors else ""))
    return data, line
