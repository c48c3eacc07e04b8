"""The switch: what happens to a board, steps 0-8 (docs/architecture.md, "The switch, step by step").

One orchestration (``state.orch jetson.switch`` or ``jetson.release``) is one call of
:func:`run`, in one process. Step 0 takes every board's lease; then the boards of each site
go through steps 1-6 together, one site job per step for the whole batch, a thread per site;
then each board waits for its minion and is recorded as soon as it is up. A board that fails
drops out alone. Every step of every board fires ``jetson/switch/<board>/<step>`` and is
written to the journal (the ``sessions`` table), so a run killed at any point is resumed by
the next run asking the same: it takes over the lease and skips the steps already done.

The steps are the plain functions below, over a :class:`~jetson_farm.runner.site.SiteCalls`;
each takes the batch (a list of :class:`Switch`) and answers ``(done, failed)``:
``{board: result}`` and ``{board: reason}``.
"""

import dataclasses
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from jetson_farm.errors import JetsonError, NotFound, Refused
from jetson_farm.inventory import Inventory
from jetson_farm.names import parse_image
from jetson_farm.power.registry import power_shows_down
from jetson_farm.runner import copies, history, leases, quarantine
from jetson_farm.runner.site import SiteCalls

log = logging.getLogger(__name__)

STEPS = ("lease", "stop", "down", "unexport", "swap", "export", "start", "verify", "record")
LEASE_MARGIN = 600  # seconds a lease outlives the longest a healthy switch can take
POLL = 5.0  # seconds before a board is asked for its marker again when no start event came
POLL_MAX = 60.0  # the longest interval between two such asks (it doubles from POLL)
ANSWER_WAIT = 30.0  # seconds an unanswered marker question is left open before another is sent
PROMPT_GAP = 1.0  # the least seconds between two questions prompted by start events (anyone may fire one)
POWER_POLL = 10.0  # seconds between two looks at the booting boards' power (off: the boot failed)


@dataclass
class Switch:
    """One board's switch (or release) in this run."""

    name: str
    kind: str
    image: str = ""  # "" parks the board (a release without a default image)
    user: str = ""
    template: str = ""  # the shared image asked for, when ``image`` is the user's copy of it
    board: object = None  # the inventory Board, from the inventory the switch started with
    switch_id: str = ""
    previous_image: str = ""
    previous_user: str = ""
    done: str = ""  # the last step finished, as the journal says
    resumed: bool = False
    stopped_at: float = 0.0  # when step 1 was sent; a start event after it means a new boot
    results: dict = field(default_factory=dict)
    error: str = ""
    boot_failure: str = ""  # why step 7 gave up before ``boot_timeout``, if it did

    @property
    def parked(self):
        return not self.image

    @property
    def driver(self):
        return self.board.power.get("driver", "salt")


# -- the steps --------------------------------------------------------------------------------


def stop(site, batch):
    """Step 1: a soft reboot by the board's own minion (driver ``salt``), else the driver's reboot."""
    own = [s for s in batch if s.driver == "salt"]
    done, failed = site.reboot_minions(own)
    more_done, more_failed = site.stop([s for s in batch if s.driver != "salt"])
    return dict(done, **more_done), dict(failed, **more_failed)


def down(site, batch):
    """Step 2: the driver reports the board off, or it answers no ping; past ``down_timeout`` a
    hard off where the driver can, else it fails with nothing touched. Then the board's stale
    NFS connections on the site are ended (``sessions_ended``).

    A board whose driver neither reports its power nor cuts it at step 1 (``salt``, ``ssh``,
    ``wol``: the board goes down by itself) must also have closed its minion's connection to
    the master, as
    ``manage.alived`` sees it, since the step began: a missed ping alone never unexports a
    running board. The connections are watched while the site waits for the pings, so a board
    back up within seconds (a fast soft reboot) is not missed. One still connected after its
    ``down_timeout`` fails with its nfsroot untouched (a board that died without closing its
    connection leaves it open on the master for minutes: power it off by hand)."""
    blind = [s for s in batch if not power_shows_down(s.board)]
    gone = {}  # board -> seconds into the step when its minion was seen disconnected
    watcher = threading.Thread(target=site.watch_disconnects, args=(blind, gone), daemon=True)
    watcher.start()
    done, failed = site.ensure_down(batch)
    watcher.join()
    for s in blind:
        if s.name not in done:
            continue
        if s.name not in gone:
            del done[s.name]
            failed[s.name] = (f"board {s.name} (power driver {s.driver}, which cannot tell its power) "
                              f"answers no ping but its minion is still connected to the master after "
                              f"{s.board.down_timeout}s: not taken for down, its nfsroot was not touched")
        elif isinstance(done[s.name], dict):
            done[s.name]["disconnected_after"] = gone[s.name]
    return done, failed


def unexport(site, batch):
    """Step 3: the nfsroot is exported to nobody."""
    return site.unexport(batch)


def swap(site, batch):
    """Step 4: the current image back in its owner's slot; the target at the nfsroot, injected."""
    return site.swap(batch)


def export(site, batch):
    """Step 5: the nfsroot is exported again (a parked board's stays unexported)."""
    done = {s.name: {"export": "left unexported: the board is parked"} for s in batch if s.parked}
    more_done, failed = site.export([s for s in batch if not s.parked])
    return dict(done, **more_done), failed


def start(site, batch, stagger=0):
    """Step 6: power on where off (a cycle where it is on); a parked board is powered off."""
    done = {s.name: {"start": "the board restarts by itself after its soft reboot"}
            for s in batch if s.driver == "salt"}
    failed = {}
    for parked in (True, False):
        group = [s for s in batch if s.driver != "salt" and s.parked == parked]
        more_done, more_failed = site.start(group, parked=parked, stagger=stagger)
        done.update(more_done)
        failed.update(more_failed)
    return done, failed


def wait_up(site, bus, batch, on_up):
    """Step 7: wait until each board's minion reports the marker of its switch; ``on_up(s, seconds)``
    as each one is. The boards that did not within their ``boot_timeout`` are returned, and so
    are those whose power driver reports them off after it reported them on (a board that
    panics and stays off, as the lab's VM boards do): their boot failed, and waiting longer
    would not bring them up.

    A board is up only when its own minion answers ``grains.get jetson_marker`` with this
    switch's id, as the master's job cache holds the answer, and the board's own address holds a
    connection to the master's publish port (rule 6: a start event or a return event is anyone's
    to fire, a marker in a start event's grains is never taken, and a minion may name another id
    as the ``resource_id`` of its return). It is
    asked when its minion (re)starts after step 1 (a start event prompts the question, at most
    once per PROMPT_GAP), at once for a resumed switch, and else at growing intervals (POLL,
    doubled up to POLL_MAX) in case an event was missed. A board is never asked again while its
    last question is open (for up to ANSWER_WAIT) except on a new start event: a minion that is
    still starting on a slow board would otherwise queue a job per poll and answer none of them
    in time.
    """
    began = time.monotonic()
    pending = {s.name: s for s in batch}
    deadline = {s.name: began + s.board.boot_timeout for s in batch}
    asked = {s.name: s.stopped_at for s in batch}  # 0 for a resumed switch: asked at once
    interval = dict.fromkeys(pending, POLL)
    open_ask = set()  # boards whose last question has not been answered yet
    late = []

    def next_ask(name):
        return asked[name] + (ANSWER_WAIT if name in open_ask else interval[name])

    def due(s, now):
        started = bus.started_at(s.board.minion)
        prompted = started is not None and started > asked[s.name] and now >= asked[s.name] + PROMPT_GAP
        return now >= next_ask(s.name) or prompted

    def is_up(name, marker):
        wanted = pending[name].switch_id if name in pending else None
        return isinstance(marker, dict) and wanted is not None and marker.get("switch_id") == wanted

    def from_the_board(s, connected):
        # Salt stores a return under the id a minion names as its resource_id, unchecked: only
        # the board's own address connected to the master proves that the board itself is up.
        if s.board.ip in connected:
            return True
        log.warning("%s answered with the marker of switch %s while no connection from %s reaches "
                    "the master: not taken (forged by another minion?)", s.name, s.switch_id, s.board.ip)
        return False

    asks = []  # the marker questions still open: a busy minion may answer late
    power_looked = began
    seen_on = set()  # boards whose driver said "on" during this wait
    while pending:
        now = time.monotonic()
        asking = [s for s in pending.values() if due(s, now)]
        for s in asking:
            if s.name in open_ask or asked[s.name]:
                interval[s.name] = min(2 * interval[s.name], POLL_MAX)
            asked[s.name] = now
            open_ask.add(s.name)
        if asking:
            asks.append(site.ask_markers(asking))
        for ask in asks:
            answers = site.markers(ask)
            connected = bus.connected_addresses() if answers else set()
            for name, marker in answers.items():
                open_ask.discard(name)
                if is_up(name, marker) and from_the_board(pending[name], connected):
                    on_up(pending.pop(name), round(time.monotonic() - began, 3))
        now = time.monotonic()
        if now >= power_looked + POWER_POLL:
            power_looked = now
            watched = [s for s in pending.values() if s.driver != "salt"]
            for name, power in (site.power_states(watched) if watched else {}).items():
                # Off counts only after on: a PDU's cycle may still hold the outlet off at first.
                if power == "on":
                    seen_on.add(name)
                elif power == "off" and name in seen_on and name in pending:
                    pending[name].boot_failure = f"its power went off {now - began:.0f}s into its boot"
                    late.append(pending.pop(name))
        for name in [n for n in pending if now >= deadline[n]]:
            late.append(pending.pop(name))
        if pending:
            soonest = min(min(deadline[n], next_ask(n)) for n in pending)
            bus.wait_event(max(0.0, min(soonest - now, 1.0)))
    return late


# -- the engine -------------------------------------------------------------------------------

STEP_WORK = {"stop": stop, "down": down, "unexport": unexport, "swap": swap, "export": export, "start": start}


class Engine:
    """Runs one orchestration (``holder``, ``jid``) against a farm through ``bus`` and ``db``."""

    def __init__(self, db, bus, load_pillar, holder, jid="", stagger=0):
        self.db, self.bus, self.load_pillar = db, bus, load_pillar
        self.holder, self.jid, self.stagger = holder, jid, stagger

    def run(self, kind, requests):
        """Switch (``kind`` switch) or release every board of ``requests``; ``{board: report}``."""
        switches = [Switch(name=r["board"], kind=kind, image=r.get("image", ""), user=r.get("user", ""))
                    for r in requests]
        started = time.monotonic()
        self.lease(switches)
        by_site = {}
        for s in switches:
            if not s.error:
                by_site.setdefault(s.board.site, []).append(s)
        threads = [threading.Thread(target=self.drive, args=(self.site_calls(s), group), name=f"switch-{s}")
                   for s, group in by_site.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log.info("switched %d board(s) in %.1fs", len(switches), time.monotonic() - started)
        return {s.name: self.report(s) for s in switches}

    def site_calls(self, site_name):
        return SiteCalls(self.bus, self.inventory.site(site_name))

    def drive(self, site, batch):
        """Steps 1-8 for the boards of one site, in lock-step batches."""
        try:
            for step, work in STEP_WORK.items():
                todo = self.due(batch, step)
                if todo:
                    clock = time.monotonic()
                    if step == "stop":
                        for s in todo:
                            s.stopped_at = clock
                    done, failed = work(site, todo, self.stagger) if step == "start" else work(site, todo)
                    self.finish(step, todo, done, failed, clock)
                batch = [s for s in batch if not s.error]
            self.verify(site, self.due(batch, "verify"))
        except Exception as err:  # a bug must not leave the other boards' leases hanging
            log.exception("switch of %s stopped", ", ".join(s.name for s in batch))
            for s in batch:
                if not s.error and "record" not in s.results:
                    self.fail(s, "verify", f"{s.name}: the switch engine failed: {err}")

    def due(self, batch, step):
        """The boards of ``batch`` that have ``step`` to do; the others skip it (done before a restart)."""
        todo = []
        for s in batch:
            if s.done and STEPS.index(s.done) >= STEPS.index(step):
                s.results[step] = {"skipped": "done before a restart"}
                self.event(s, step, {"result": "skipped", "skipped": "done before a restart"}, 0.0)
            else:
                todo.append(s)
        return todo

    def finish(self, step, batch, done, failed, clock):
        """Journal and announce a step's outcome for every board of the batch."""
        seconds = time.monotonic() - clock
        ok = [s for s in batch if s.name in done and s.name not in failed]
        with self.db.connect() as conn:
            for s in ok:
                history.set_step(conn, s.switch_id, step)
                if step == "swap":
                    history.end_active(conn, s.name, keep=s.switch_id)
        for s in ok:
            s.done, s.results[step] = step, done[s.name]
            self.event(s, step, dict(done[s.name] if isinstance(done[s.name], dict) else {}, result="ok"),
                       seconds)
        for s in batch:
            if s not in ok:
                reason = failed.get(s.name, "no answer")
                self.fail(s, step, f"{s.name}: step {step} failed: {reason}", seconds)

    # -- step 0 -------------------------------------------------------------------------------

    def lease(self, switches):
        """Step 0: check each request and take the board's lease (a new switch, or the resumed one)."""
        clock = time.monotonic()
        raw = self.load_pillar()
        try:
            self.inventory = Inventory.load(raw)
        except JetsonError as err:
            for s in switches:
                self.refuse(s, err, clock)
            return
        checked = []
        for s in switches:
            try:
                self.check(s)
                checked.append(s)
            except JetsonError as err:
                self.refuse(s, err, clock)
        # One thread per site: a silent site fails only its own boards, and costs the others
        # only the time to find it silent (docs/architecture.md, "Sites in one run").
        groups = {}
        for s in checked:
            groups.setdefault(s.board.site, []).append(s)
        threads = [threading.Thread(target=self.lease_site, args=(site, group, raw, clock))
                   for site, group in sorted(groups.items())]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def lease_site(self, site_name, group, raw, clock):
        try:
            site = self.site_calls(site_name)
            copies.make(self, site, group)  # before the lease: a copy never holds a board
            group = [s for s in group if not s.error]
            journals, images = site.journals_and_images()
        except Exception as err:  # JetsonError, or a bug: either way only this site's boards fail
            for s in group:
                self.refuse(s, err, clock)
            return
        for s in group:
            try:
                self.take(s, journals.get(s.name) or {}, images, raw)
            except JetsonError as err:
                self.refuse(s, err, clock)
                continue
            self.event(s, "lease", {"result": "ok", **self.results_of_lease(s)}, time.monotonic() - clock)

    def check(self, s):
        s.board = self.inventory.board(s.name)
        if s.kind == "release":
            s.image = s.board.image
            s.user = parse_image(s.image)[0] if s.image else (s.user or "admin")
        else:
            s.user = s.user or parse_image(s.image)[0]
            self.inventory.user(s.user)
            self.inventory.may_boot(s.user, s.image)
        with self.db.connect() as conn:
            quarantine.check(conn, s.name)
            leases.check_free(conn, s.name, self.holder)

    def take(self, s, journal, images, raw):
        if s.image:
            if s.image not in images:
                raise NotFound(f"image {s.image} does not exist on site {s.board.site}")
            if images[s.image] not in (None, s.name):
                raise Refused(f"image {s.image} is at board {images[s.image]}'s nfsroot now; "
                                  f"release {images[s.image]} first")
        with self.db.connect(immediate=True) as conn:
            quarantine.check(conn, s.name)
            stale = leases.check_free(conn, s.name, self.holder)
            session = resumable(conn, stale, s)
            if session is None:
                if stale is not None:
                    history.close(conn, stale["switch_id"], "interrupted", "taken over by a later switch")
                session = history.start(conn, switch_id=new_switch_id(s.name), kind=s.kind, board=s.name,
                                        user=s.user, image=s.image, previous_image=journal.get("image") or "",
                                        previous_user=journal.get("user") or "", jid=self.jid,
                                        inventory=json.dumps(raw))
            else:
                s.resumed = True
                s.board = Inventory.load(json.loads(session["inventory"])).board(s.name)
            ttl = 2 * (s.board.down_timeout + s.board.boot_timeout) + LEASE_MARGIN
            leases.put(conn, s.name, switch_id=session["switch_id"], user=s.user, image=s.image, jid=self.jid,
                       holder=self.holder, ttl=ttl)
        s.switch_id, s.done = session["switch_id"], session["step"]
        s.previous_image, s.previous_user = session["previous_image"], session["previous_user"]

    def results_of_lease(self, s):
        result = {"switch_id": s.switch_id, "kind": s.kind, "image": s.image or None, "user": s.user,
                  "template": s.template or None,
                  "previous_image": s.previous_image or None, "resumed": s.resumed}
        s.results["lease"] = result
        return result

    # -- steps 7 and 8 ------------------------------------------------------------------------

    def verify(self, site, batch):
        """Step 7 for the batch, then step 8 for each board as soon as it is up; rollbacks last."""
        for s in [s for s in batch if s.parked]:
            self.up(s, None, "nothing to boot: the board is parked")
        booting = [s for s in batch if not s.parked]
        clock = time.monotonic()
        late = wait_up(site, self.bus, booting, lambda s, seconds: self.up(s, seconds))
        for s in late:
            how = (f"failed to boot {s.image}: {s.boot_failure}" if s.boot_failure
                   else f"did not come back on {s.image} within {s.board.boot_timeout}s")
            reason = f"{s.name} {how} (switch {s.switch_id})"
            s.results["verify"] = {"verify": reason}
        rollbacks = roll_back(self, site, late) if late else {}
        for s in late:
            reason = f"{s.results['verify']['verify']}; {rollbacks[s.name]}; board quarantined"
            with self.db.connect() as conn:
                quarantine.put(conn, s.name, reason, by=f"switch {s.switch_id}")
            self.fail(s, "verify", reason, time.monotonic() - clock)

    def up(self, s, seconds, text=None):
        result = {"verify": text or f"{s.board.minion} is up on {s.image}"}
        if seconds is not None:
            result["boot_seconds"] = seconds
        s.results["verify"] = result
        self.event(s, "verify", dict(result, result="ok"), seconds or 0.0)
        clock = time.monotonic()
        with self.db.connect() as conn:
            if s.image:
                history.mark_ready(conn, s.switch_id)
            else:
                history.close(conn, s.switch_id, "parked")
            leases.release(conn, s.name, s.switch_id)
        record = {"image": s.image or None, "user": s.user}
        if s.image:
            address = self.inventory.site(s.board.site)
            record["ssh"] = f"ssh -J {s.user}@{address.address or address.minion} root@{s.board.ip}"
            self.bus.fire(f"jetson/board/{s.name}/ready", dict(record, board=s.name, switch_id=s.switch_id))
        s.results["record"] = record
        self.event(s, "record", dict(record, result="ok"), time.monotonic() - clock)

    # -- telling ------------------------------------------------------------------------------

    def event(self, s, step, data, seconds):
        self.bus.fire(f"jetson/switch/{s.name}/{step}",
                      dict(data, board=s.name, step=step, number=STEPS.index(step), switch_id=s.switch_id,
                           seconds=round(seconds, 3)))

    def refuse(self, s, err, clock):
        s.error = f"{s.name}: refused: {err}"
        self.event(s, "lease", {"result": "failed", "reason": str(err)}, time.monotonic() - clock)
        self.bus.fire(f"jetson/board/{s.name}/failed", {"board": s.name, "step": "lease", "reason": str(err)})

    def fail(self, s, step, reason, seconds=0.0):
        s.error = reason
        with self.db.connect() as conn:
            history.close(conn, s.switch_id, "failed", reason)
            leases.release(conn, s.name, s.switch_id)
        self.event(s, step, {"result": "failed", "reason": reason}, seconds)
        self.bus.fire(f"jetson/board/{s.name}/failed",
                      {"board": s.name, "step": step, "reason": reason, "switch_id": s.switch_id,
                       "image": s.image, "user": s.user})

    @staticmethod
    def report(s):
        """What the runner returns for one board: ``result``, ``comment`` and, failed, ``error``."""
        report = {"board": s.name, "result": not s.error, "switch_id": s.switch_id or None,
                  "image": s.image or None, "template": s.template or None, "user": s.user or None,
                  "steps": s.results}
        if s.error:
            report.update(error=s.error, comment=s.error)
        elif s.image:
            report["comment"] = f"up on {s.image} for {s.user} ({s.results['record'].get('ssh')})"
        else:
            report["comment"] = "parked: no image, unexported"
        return report


def new_switch_id(board):
    return f"{board}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(2)}"


def resumable(conn, stale, s):
    """The interrupted session ``stale`` if it asked for the same as ``s``, else None."""
    if stale is None:
        return None
    session = history.get(conn, stale["switch_id"])
    if (session is not None and session["outcome"] == "switching" and session["kind"] == s.kind
            and session["image"] == s.image and session["user"] == s.user):
        return session
    return None


def roll_back(engine, site, batch):
    """Put each board's previous image back once (or park it) and boot it: ``{board: sentence}``."""
    told = {}
    live = [dataclasses.replace(
        s, image=s.previous_image, switch_id=f"{s.switch_id}-rollback", stopped_at=time.monotonic(),
        user=s.previous_user or (parse_image(s.previous_image)[0] if s.previous_image else ""),
        resumed=False, results={}) for s in batch]
    for work in STEP_WORK.values():
        done, failed = work(site, live)
        for s in live:
            if s.name not in done or s.name in failed:
                log.error("board %s: rollback failed: %s", s.name, failed.get(s.name))
                told[s.name] = f"the rollback failed: {failed.get(s.name, 'no answer')}"
        live = [s for s in live if s.name not in told]
    for s in live:
        engine.bus.fire(f"jetson/switch/{s.name}/rollback",
                        {"board": s.name, "image": s.image or None, "switch_id": s.switch_id})
        if s.parked:
            told[s.name] = "rolled back: the board is parked (it had no image before)"
    booting = [s for s in live if not s.parked]
    late = {s.name for s in wait_up(site, engine.bus, booting, lambda s, seconds: None)}
    for s in booting:
        told[s.name] = (f"rolled back to {s.image}, which did not boot either" if s.name in late
                        else f"rolled back to {s.image}, which is up")
    return told
