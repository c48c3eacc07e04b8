"""The switch engine's hands on Salt: one LocalClient and one event listener for a whole run.

Jobs are published without waiting (``run_job``); one listener thread reads the master's event
bus and keeps the job returns and the minions' start events, so many boards and sites can wait
side by side in one process. :meth:`FarmBus.close` destroys every Salt client it made.
"""

import logging
import threading
import time

import salt.client
import salt.utils.event
import salt.utils.network

from jetson_farm.runner.site import MinionError, NoAnswer

log = logging.getLogger(__name__)

FORGET_AFTER = 600  # seconds a return nobody waits for is kept (a job of another process)
LIVENESS_CHECK = 5.0  # seconds without an answer before a minion is asked whether it runs the job
FIND_JOB_WAIT = 10  # the least time a minion is given to answer that question (Salt's default)


def _failure_text(value):
    return str(value).removeprefix("ERROR: ")


class FarmBus:
    """Publishes jobs, collects their returns and the minions' start events, fires events."""

    def __init__(self, opts):
        self.opts = opts
        self._client = salt.client.LocalClient(mopts=opts)
        self._listener = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
        self._firer = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False)
        self._lock = threading.Lock()  # one publish or fire at a time through the shared clients
        self._seen = threading.Condition()
        self._returns = {}  # jid -> {minion: return event data}, for every job seen
        self._first_seen = {}  # jid -> monotonic time, to forget the other processes' jobs
        self._starts = {}  # minion -> monotonic time of its last start event
        self._start_grains = {}  # minion -> the grains its last start event carried
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
            with self._seen:
                if len(parts) >= 5 and parts[:2] == ["salt", "job"] and parts[3] == "ret":
                    self._returns.setdefault(parts[2], {})[parts[4]] = event["data"]
                    self._first_seen.setdefault(parts[2], time.monotonic())
                elif len(parts) == 4 and parts[:2] == ["salt", "minion"] and parts[3] == "start":
                    self._starts[parts[2]] = time.monotonic()
                    grains = event["data"].get("grains") if isinstance(event["data"], dict) else None
                    self._start_grains[parts[2]] = grains if isinstance(grains, dict) else {}
                else:
                    continue
                self._seen.notify_all()

    def started_at(self, minion):
        """Monotonic time of ``minion``'s last start event in this run, or None."""
        with self._seen:
            return self._starts.get(minion)

    def start_grain(self, minion, grain):
        """The grain ``minion``'s last start event carried (``start_event_grains``), or None."""
        with self._seen:
            return self._start_grains.get(minion, {}).get(grain)

    def wait_event(self, seconds):
        """Sleep until the next job return or start event, at most ``seconds``."""
        with self._seen:
            self._seen.wait(max(seconds, 0.0))

    # -- jobs ---------------------------------------------------------------------------------

    def publish(self, minions, fun, *args, **kwargs):
        """Send ``fun`` to ``minions`` as one job, without waiting: the job, for :meth:`collect`."""
        minions = sorted(set(minions))
        log.debug("publishing %s to %s %s %s", fun, minions, args, kwargs)
        with self._lock:
            pub = self._client.run_job(minions, fun, arg=list(args), tgt_type="list", kwarg=kwargs or None)
        if not pub or not pub.get("jid"):
            raise MinionError(f"{fun} could not be published to {', '.join(minions)}")
        return pub["jid"], minions

    def collect(self, job, timeout, liveness=False):
        """``{minion: (ok, value)}`` of those that answered ``job`` within ``timeout`` seconds
        (``ok`` False: the value is the minion's error message).

        With ``liveness``, as Salt's own clients do, a minion that has not answered after
        ``LIVENESS_CHECK`` seconds is asked whether it still runs the job (``saltutil.find_job``);
        one that does not say so within the master's ``gather_job_timeout`` (at least
        ``FIND_JOB_WAIT``), twice in a row, is down or not connected, and is not waited for
        any longer. A long job on a live minion is waited for up to ``timeout``. Only for reads:
        a busy minion too slow to answer ``find_job`` must not fail a step that it is running.
        """
        jid, minions = job
        deadline = time.monotonic() + timeout
        waited_for, late, silent_once = set(minions), set(), set()
        while True:
            until = min(deadline, time.monotonic() + LIVENESS_CHECK) if liveness else deadline
            with self._seen:
                while not waited_for <= set(self._returns.get(jid, {})) and time.monotonic() < until:
                    self._seen.wait(until - time.monotonic())
                missing = waited_for - set(self._returns.get(jid, {}))
            if not missing or time.monotonic() >= deadline:
                break
            silent, done = self._not_running(jid, missing)
            # Silent twice in a row: a live minion busy in its main loop (a pillar refresh) may
            # miss one question. Done with the job but no return yet: one more check too.
            waited_for -= (silent & silent_once) | (done & late)
            silent_once, late = silent, late | done
        with self._seen:
            returns = self._returns.pop(jid, {})
            self._forget(time.monotonic() - FORGET_AFTER)
        return self._answers(returns)

    def _not_running(self, jid, minions):
        """``(silent, done)``: those of ``minions`` that did not answer whether they run ``jid``,
        and those that said they do not."""
        wait = max(self.opts.get("gather_job_timeout", 10), FIND_JOB_WAIT)
        answers = self.collect(self.publish(minions, "saltutil.find_job", jid), wait)
        silent = {m for m in minions if m not in answers}
        if silent:
            log.debug("%s did not say within %ss whether they run job %s", sorted(silent), wait, jid)
        return silent, {m for m, (ok, value) in answers.items() if not (ok and value)}

    def poll(self, job):
        """The answers to ``job`` that came since the last poll, without waiting (as :meth:`collect`)."""
        jid, _ = job
        with self._seen:
            returns = self._returns.get(jid, {})
            self._returns[jid] = {}
            self._first_seen.setdefault(jid, time.monotonic())
        return self._answers(returns)

    def _answers(self, returns):
        answers = {}
        for minion, data in returns.items():
            value = data.get("return")
            failed = data.get("retcode", 0) not in (0, None) or data.get("success") is False or (
                isinstance(value, str) and value.startswith("ERROR"))
            answers[minion] = (not failed, _failure_text(value) if failed else value)
        return answers

    def call(self, minions, fun, *args, timeout=60, **kwargs):
        """Run ``fun`` on ``minions`` as one job and wait: as :meth:`collect`."""
        if not minions:
            return {}
        return self.collect(self.publish(minions, fun, *args, **kwargs), timeout)

    def _forget(self, before):
        for old in [j for j, seen in self._first_seen.items() if seen < before]:
            self._returns.pop(old, None)
            del self._first_seen[old]

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
