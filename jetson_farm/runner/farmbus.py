"""The switch engine's hands on Salt: one LocalClient and one event listener for a whole run.

Jobs are published without waiting (``run_job``); one listener thread reads the master's event
bus, so many boards and sites can wait side by side in one process. A return event on the bus
only says where to look: the answer is the return the master stored in its job cache for that
jid and minion (:mod:`jetson_farm.runner.jobcache`), which a board cannot forge (rule 6). A
minion's start event only prompts a question. :meth:`FarmBus.close` destroys every Salt client
it made.
"""

import logging
import threading
import time

import salt.client
import salt.utils.event
import salt.utils.network

from jetson_farm.runner.jobcache import CONFIRM_POLL, JobCache, answer
from jetson_farm.runner.site import MinionError, NoAnswer

log = logging.getLogger(__name__)

FORGET_AFTER = 600  # seconds a return nobody waits for is kept (a job of another process)
# A silent minion is given up after ``give_up`` seconds (a site's ``silent_timeout``, 30 by
# default): two rounds, each a wait of a sixth of it for the answer and of a third for the
# minion to say it still runs the job (5 s and 10 s at 30, as Salt's own clients wait).
LIVENESS_SHARE = 1 / 6
FIND_JOB_SHARE = 1 / 3
# Seconds a return announced on the bus is looked for in the job cache, which the master writes
# right after it fires the event; one never stored there was fired by someone else (forged).
CONFIRM_GRACE = 10.0


class FarmBus:
    """Publishes jobs, collects their confirmed returns, sees the minions' start events, fires events."""

    def __init__(self, opts):
        self.opts = opts
        self.cache = JobCache(opts)
        self._client = salt.client.LocalClient(mopts=opts)
        self._listener = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
        self._firer = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False)
        self._lock = threading.Lock()  # one publish or fire at a time through the shared clients
        self._seen = threading.Condition()
        self._announced = {}  # jid -> {minion: monotonic time its return event first came}
        self._taken = {}  # jid -> the minions whose confirmed return was handed out (poll)
        self._first_seen = {}  # jid -> monotonic time, to forget the other processes' jobs
        self._mine = set()  # the jids this bus published and still waits on
        self._starts = {}  # minion -> monotonic time of its last start event
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="jetson-farm-bus", daemon=True)
        self._thread.start()

    # -- the listener -------------------------------------------------------------------------

    def _listen(self):
        while not self._closed.is_set():
            event = self._listener.get_event(wait=0.2, full=True)
            if not event:
                continue
            parts = event["tag"].split("/")
            now = time.monotonic()
            with self._seen:
                if len(parts) >= 5 and parts[:2] == ["salt", "job"] and parts[3] == "ret":
                    self._announced.setdefault(parts[2], {}).setdefault(parts[4], now)
                    self._first_seen.setdefault(parts[2], now)
                elif len(parts) == 4 and parts[:2] == ["salt", "minion"] and parts[3] == "start":
                    self._starts[parts[2]] = now
                else:
                    continue
                self._seen.notify_all()

    def started_at(self, minion):
        """Monotonic time of ``minion``'s last start event in this run, or None: a prompt to ask
        it something, never an answer (anyone may fire that tag)."""
        with self._seen:
            return self._starts.get(minion)

    def wait_event(self, seconds):
        """Sleep until the next job return or start event, at most ``seconds`` (less while a
        return of this bus's jobs is announced but not yet in the job cache)."""
        with self._seen:
            if self._unconfirmed(time.monotonic()):
                seconds = min(seconds, CONFIRM_POLL)
            self._seen.wait(max(seconds, 0.0))

    def _unconfirmed(self, now):
        return any(now - when < CONFIRM_GRACE
                   for jid in self._mine
                   for minion, when in self._announced.get(jid, {}).items()
                   if minion not in self._taken.get(jid, ()))

    def _confirm(self, jid, minions):
        """``{minion: stored return}`` of ``minions`` whose return to ``jid`` the job cache holds;
        each announced one it does not hold after ``CONFIRM_GRACE`` is logged once as forged."""
        found = self.cache.returns(jid, minions)
        now = time.monotonic()
        with self._seen:
            announced = self._announced.get(jid, {})
            for minion in set(minions) - set(found):
                when = announced.get(minion)
                if when is not None and now - when >= CONFIRM_GRACE:
                    log.warning("a return of %s to job %s came on the event bus but the master never "
                                "stored it: ignored (fired by another minion?)", minion, jid)
                    del announced[minion]
        return found

    # -- jobs ---------------------------------------------------------------------------------

    def publish(self, minions, fun, *args, **kwargs):
        """Send ``fun`` to ``minions`` as one job, without waiting: the job, for :meth:`collect`."""
        minions = sorted(set(minions))
        log.debug("publishing %s to %s %s %s", fun, minions, args, kwargs)
        with self._lock:
            pub = self._client.run_job(minions, fun, arg=list(args), tgt_type="list", kwarg=kwargs or None)
        if not pub or not pub.get("jid"):
            raise MinionError(f"{fun} could not be published to {', '.join(minions)}")
        with self._seen:
            self._mine.add(pub["jid"])
            self._first_seen.setdefault(pub["jid"], time.monotonic())
        return pub["jid"], minions

    def collect(self, job, timeout, give_up=None):
        """``{minion: (ok, value)}`` of those that answered ``job`` within ``timeout`` seconds
        (``ok`` False: the value is the minion's error message), as the master's job cache holds
        the answers: a return event nobody stored there is no answer.

        With ``give_up`` (seconds), as Salt's own clients do, a minion that has not answered after
        a sixth of it is asked whether it still runs the job (``saltutil.find_job``); one that
        does not say so within a third of it, twice in a row, is down or not connected, and is
        not waited for any longer. A long job on a live minion is waited for up to ``timeout``.
        Only for reads: a busy minion too slow to answer ``find_job`` must not fail a step that
        it is running.
        """
        jid, minions = job
        deadline = time.monotonic() + timeout
        waited_for, late, silent_once = set(minions), set(), set()
        got = {}
        while True:
            until = min(deadline, time.monotonic() + give_up * LIVENESS_SHARE) if give_up else deadline
            # A return missed on the bus is still found in the cache, once per round.
            got.update(self._confirm(jid, waited_for - set(got)))
            while not waited_for <= set(got) and time.monotonic() < until:
                with self._seen:
                    announced = set(self._announced.get(jid, {})) & (waited_for - set(got))
                    if not announced:
                        self._seen.wait(until - time.monotonic())
                        announced = set(self._announced.get(jid, {})) & (waited_for - set(got))
                if announced:
                    found = self._confirm(jid, announced)
                    got.update(found)
                    if len(found) < len(announced):  # announced, not stored yet: look again soon
                        time.sleep(CONFIRM_POLL)
            missing = waited_for - set(got)
            if not missing or time.monotonic() >= deadline:
                break
            silent, done = self._not_running(jid, missing, give_up * FIND_JOB_SHARE)
            # Silent twice in a row: a live minion busy in its main loop (a pillar refresh) may
            # miss one question. Done with the job but no return yet: one more check too.
            waited_for -= (silent & silent_once) | (done & late)
            silent_once, late = silent, late | done
        self._drop(jid)
        return {minion: answer(stored) for minion, stored in got.items()}

    def _not_running(self, jid, minions, wait):
        """``(silent, done)``: those of ``minions`` that did not answer within ``wait`` seconds
        whether they run ``jid``, and those that said they do not."""
        answers = self.collect(self.publish(minions, "saltutil.find_job", jid), wait)
        silent = {m for m in minions if m not in answers}
        if silent:
            log.debug("%s did not say within %ss whether they run job %s", sorted(silent), wait, jid)
        return silent, {m for m, (ok, value) in answers.items() if not (ok and value)}

    def poll(self, job):
        """The confirmed answers to ``job`` that came since the last poll, without waiting (as
        :meth:`collect`). One announced but not yet stored is given by a later poll."""
        jid, _ = job
        with self._seen:
            announced = set(self._announced.get(jid, {})) - self._taken.get(jid, set())
        found = self._confirm(jid, announced) if announced else {}
        with self._seen:
            self._taken.setdefault(jid, set()).update(found)
        return {minion: answer(stored) for minion, stored in found.items()}

    def _drop(self, jid):
        with self._seen:
            self._remove(jid)
            self._forget(time.monotonic() - FORGET_AFTER)

    def _remove(self, jid):
        for table in (self._announced, self._taken, self._first_seen):
            table.pop(jid, None)
        self._mine.discard(jid)

    def call(self, minions, fun, *args, timeout=60, **kwargs):
        """Run ``fun`` on ``minions`` as one job and wait: as :meth:`collect`."""
        if not minions:
            return {}
        return self.collect(self.publish(minions, fun, *args, **kwargs), timeout)

    def _forget(self, before):
        for old in [j for j, seen in self._first_seen.items() if seen < before]:
            self._remove(old)

    def call_one(self, minion, fun, *args, timeout=60, **kwargs):
        """The return of ``fun`` on ``minion``; MinionError naming the minion if it failed or was silent."""
        answers = self.call([minion], fun, *args, timeout=timeout, **kwargs)
        return self.answer_of(minion, fun, answers)

    @staticmethod
    def answer_of(minion, fun, answers):
        """The value ``minion`` gave in ``answers``; MinionError if it failed or was silent."""
        answer = answers.get(minion)
        if answer is None:
            raise NoAnswer(f"{minion}: {fun} got no answer (is the minion up?)")
        ok, value = answer
        if not ok:
            raise MinionError(f"{minion}: {fun} failed: {value}")
        return value

    def connected_addresses(self):
        """The addresses with a connection to the master's publish port: connected minions, as
        Salt's ``manage.alived`` finds them."""
        return salt.utils.network.local_port_tcp(int(self.opts["publish_port"]))

    # -- events -------------------------------------------------------------------------------

    def fire(self, tag, data):
        with self._lock:
            self._firer.fire_event(dict(data), tag)

    def close(self):
        self._closed.set()
        self._thread.join(timeout=5)
        for client in (self._listener, self._firer, self._client):
            client.destroy()
