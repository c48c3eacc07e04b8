"""Steps 0-8 of a switch or release of one board (DESIGN.md "The switch, step by step").

Each step is one ``salt.runner jetson.step`` state of the orchestration, so each is a short
call that reads what earlier steps left in the database and on the site, does its part, and
records it. Every step is idempotent: after a crash, the next run takes over the stale lease,
resumes the same switch and skips the steps it had finished.
"""

import json
import logging
import secrets
import time

from jetson_farm.errors import JetsonError
from jetson_farm.inventory import Inventory
from jetson_farm.names import parse_image
from jetson_farm.runner import history, leases, quarantine
from jetson_farm.runner.plan import STEPS
from jetson_farm.runner.site import SiteCalls

log = logging.getLogger(__name__)

LEASE_MARGIN = 600  # seconds a lease outlives the longest a healthy switch can take


class StepFailed(JetsonError):
    """A step failed; the message says why and what state the board was left in."""


def new_switch_id(board):
    return f"{board}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(2)}"


def ssh_line(inventory, board, user):
    site = inventory.site(board.site)
    return f"ssh -J {user}@{site.address or site.minion} root@{board.ip}"


class Switcher:
    """Runs the steps of one orchestration (``holder``) against a farm."""

    def __init__(self, db, load_pillar, ops, holder, jid="", poll=5.0):
        """``load_pillar()`` gives the ``jetson`` pillar; step 0 reads it and keeps a snapshot in
        the session, so the later steps of a switch all work from the inventory it started with."""
        self.db, self.load_pillar, self.ops = db, load_pillar, ops
        self.holder, self.jid, self.poll = holder, jid, poll
        self.inventory = None

    # -- the door ----------------------------------------------------------------------------

    def step(self, board, step, kind="switch", image="", user=""):
        """Run ``step`` for ``board``; its result dict, or StepFailed after telling everyone."""
        if step not in STEPS:
            raise StepFailed(f"unknown step {step!r}: one of {', '.join(STEPS)}")
        clock = time.monotonic()
        if step == "lease":
            try:
                result = self.lease(board, kind, image, user)
            except JetsonError as err:
                self._event(board, step, {"result": "failed", "reason": str(err)}, clock)
                self.ops.fire(f"jetson/board/{board}/failed",
                              {"board": board, "step": step, "reason": str(err)})
                raise StepFailed(f"{board}: refused: {err}") from err
            self._event(board, step, dict(result, result="ok"), clock)
            return result
        with self.db.connect() as conn:
            lease = leases.held_by(conn, board, self.holder)
            session = history.get(conn, lease["switch_id"])
        raw = json.loads(session["inventory"]) if session["inventory"] else self.load_pillar()
        self.inventory = Inventory.load(raw)
        if STEPS.index(session["step"]) >= STEPS.index(step):
            result = {"board": board, "switch_id": session["switch_id"], "skipped": "done before a restart"}
            self._event(board, step, dict(result, result="skipped"), clock)
            return result
        target = self.inventory.board(board)
        try:
            result = getattr(self, f"_{step}")(target, session)
        except JetsonError as err:
            reason = str(err) if isinstance(err, StepFailed) else f"{board}: step {step} failed: {err}"
            self._fail(board, session, step, reason, clock)
            raise StepFailed(reason) from err
        result = dict(result, board=board, switch_id=session["switch_id"])
        if step not in ("verify", "record"):
            with self.db.connect() as conn:
                history.set_step(conn, session["switch_id"], step)
        self._event(board, step, dict(result, result="ok"), clock)
        return result

    def _event(self, board, step, data, clock):
        data = dict(data, board=board, step=step, number=STEPS.index(step),
                    seconds=round(time.monotonic() - clock, 3))
        self.ops.fire(f"jetson/switch/{board}/{step}", data)

    def _fail(self, board, session, step, reason, clock):
        with self.db.connect() as conn:
            history.close(conn, session["switch_id"], "failed", reason)
            leases.release(conn, board, session["switch_id"])
        self._event(board, step, {"result": "failed", "reason": reason, "switch_id": session["switch_id"]},
                    clock)
        self.ops.fire(f"jetson/board/{board}/failed",
                      {"board": board, "step": step, "reason": reason, "switch_id": session["switch_id"],
                       "image": session["image"], "user": session["user"]})

    # -- step 0 ------------------------------------------------------------------------------

    def lease(self, board_name, kind, image, user):
        """Check the request and take the board's lease: the switch id (resumed or new)."""
        raw = self.load_pillar()
        self.inventory = Inventory.load(raw)
        board = self.inventory.board(board_name)
        if kind == "release":
            image = board.image
            user = parse_image(image)[0] if image else (user or "admin")
        elif kind == "switch":
            owner, _ = parse_image(image)
            user = user or owner
            self.inventory.user(user)
            self.inventory.may_boot(user, image)
        else:
            raise StepFailed(f"unknown kind {kind!r}: switch or release")
        with self.db.connect() as conn:
            quarantine.check(conn, board.name)
            leases.check_free(conn, board.name, self.holder)
        site = SiteCalls(self.ops, self.inventory, board)
        if image:
            site.check_image_free(image)
        now_at = site.current()
        with self.db.connect(immediate=True) as conn:
            quarantine.check(conn, board.name)
            stale = leases.check_free(conn, board.name, self.holder)
            resumed = self._resumable(conn, stale, kind, image, user)
            if resumed is None:
                if stale is not None:
                    history.close(conn, stale["switch_id"], "interrupted", "taken over by a later switch")
                switch_id = new_switch_id(board.name)
                history.start(conn, switch_id=switch_id, kind=kind, board=board.name, user=user, image=image,
                              previous_image=now_at["image"], previous_user=now_at["user"], jid=self.jid,
                              inventory=json.dumps(raw))
            else:
                switch_id = resumed["switch_id"]
            ttl = 2 * (board.down_timeout + board.boot_timeout) + LEASE_MARGIN
            leases.put(conn, board.name, switch_id=switch_id, user=user, image=image, jid=self.jid,
                       holder=self.holder, ttl=ttl)
            session = history.get(conn, switch_id)
        return {"board": board.name, "switch_id": switch_id, "kind": kind, "image": image or None,
                "user": user, "previous_image": session["previous_image"] or None,
                "resumed": resumed is not None}

    @staticmethod
    def _resumable(conn, stale, kind, image, user):
        if stale is None:
            return None
        session = history.get(conn, stale["switch_id"])
        if (session is not None and session["outcome"] == "switching" and session["kind"] == kind
                and session["image"] == image and session["user"] == user):
            return session
        return None

    # -- steps 1-8 ---------------------------------------------------------------------------

    def _stop(self, board, session):
        return SiteCalls(self.ops, self.inventory, board).stop()

    def _down(self, board, session):
        return SiteCalls(self.ops, self.inventory, board).ensure_down()

    def _unexport(self, board, session):
        return SiteCalls(self.ops, self.inventory, board).unexport()

    def _swap(self, board, session):
        site = SiteCalls(self.ops, self.inventory, board)
        result = site.put(session["image"], session["user"], session["switch_id"])
        with self.db.connect() as conn:
            history.end_active(conn, board.name, keep=session["switch_id"])
        return result

    def _export(self, board, session):
        if not session["image"]:
            return {"export": "left unexported: the board is parked"}
        return SiteCalls(self.ops, self.inventory, board).export()

    def _start(self, board, session):
        return SiteCalls(self.ops, self.inventory, board).start(parked=not session["image"])

    def _verify(self, board, session):
        if not session["image"]:
            return {"verify": "nothing to boot: the board is parked"}
        seconds = self.wait_marker(board, session["switch_id"])
        if seconds is not None:
            return {"verify": f"{board.minion} is up on {session['image']}", "boot_seconds": seconds}
        reason = (f"{board.name} did not come back on {session['image']} within {board.boot_timeout}s "
                  f"(switch {session['switch_id']})")
        rollback = self.roll_back(board, session)
        reason = f"{reason}; {rollback}; board quarantined"
        with self.db.connect() as conn:
            quarantine.put(conn, board.name, reason, by=f"switch {session['switch_id']}")
        raise StepFailed(reason)

    def _record(self, board, session):
        with self.db.connect() as conn:
            if session["image"]:
                history.mark_ready(conn, session["switch_id"])
            else:
                history.close(conn, session["switch_id"], "parked")
            leases.release(conn, board.name, session["switch_id"])
        result = {"image": session["image"] or None, "user": session["user"]}
        if session["image"]:
            result["ssh"] = ssh_line(self.inventory, board, session["user"])
            self.ops.fire(f"jetson/board/{board.name}/ready",
                          dict(result, board=board.name, switch_id=session["switch_id"]))
        return result

    # -- waiting and rolling back ------------------------------------------------------------

    def wait_marker(self, board, switch_id):
        """Seconds until the board's minion reports the marker of ``switch_id``; None at boot_timeout.

        It listens for the minion's start event before its first poll, and polls the grain
        too, so a board that came back before this step started is seen at once.
        """
        clock = time.monotonic()
        deadline = clock + board.boot_timeout
        with self.ops.minion_starts(board.minion) as started:
            while True:
                answered, marker = self.ops.try_call(board.minion, "grains.get", "jetson_marker", timeout=1)
                if answered and isinstance(marker, dict) and marker.get("switch_id") == switch_id:
                    return round(time.monotonic() - clock, 3)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                # Until the minion (re)starts there is nothing new to ask; its start event ends
                # the wait early, and a start missed while polling is still in the queue.
                started(min(remaining, self.poll))

    def roll_back(self, board, session):
        """Put the previous image back once (or park), boot it; a sentence saying how it went."""
        site = SiteCalls(self.ops, self.inventory, board)
        previous = session["previous_image"]
        switch_id = f"{session['switch_id']}-rollback"
        try:
            site.ensure_down()
            site.unexport()
            if previous:
                site.put(previous, session["previous_user"] or parse_image(previous)[0], switch_id)
                site.export()
                site.start(parked=False)
            else:
                site.put("", "", switch_id)
                site.start(parked=True)
        except JetsonError as err:
            log.error("board %s: rollback failed: %s", board.name, err)
            return f"the rollback failed: {err}"
        self.ops.fire(f"jetson/switch/{board.name}/rollback",
                      {"board": board.name, "image": previous or None, "switch_id": switch_id})
        if not previous:
            return "rolled back: the board is parked (it had no image before)"
        if self.wait_marker(board, switch_id) is None:
            return f"rolled back to {previous}, which did not boot either"
        return f"rolled back to {previous}, which is up"

