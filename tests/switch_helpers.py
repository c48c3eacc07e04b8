"""Helpers for the switch/release tests against a lab (tests/lab_fixture.py): run the
orchestrations, watch the master's event bus, and read where every image is."""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time

import salt.utils.event

from jetson_farm.switch import STEPS
from tests import salt_clients


def orchestrate(lab, sls, pillar, timeout=900):
    """``salt-run state.orch <sls> pillar=<json>``: a lab Result."""
    return lab.salt_run(["state.orch", sls, f"pillar={json.dumps(pillar)}"], timeout=timeout)


# What a normal run must never print on stderr: a traceback, a leak warning, a Python warning.
# Salt 3008.3's own finalizer warnings are hidden on purpose (jetson_farm/salt_noise.py).
NOISE = ("Traceback", "unclosed", "Warning", "WARNING")


def noise(stderr):
    """The lines of ``stderr`` that hold a traceback, a leak or a warning."""
    return [line for line in stderr.splitlines() if any(word in line for word in NOISE)]


def admin_salt_run(lab, *args, timeout=900):
    """``salt-run -c <lab master> ARGS`` exactly as an admin types it (Salt's default outputter
    and log level): the CompletedProcess."""
    argv = [os.path.join(os.path.dirname(sys.executable), "salt-run"), "-c", str(lab.master_dir), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def start_orchestrate(lab, sls, pillar):
    """The same, in the background, in its own process group (so a test can kill it whole)."""
    argv = [os.path.join(os.path.dirname(sys.executable), "salt-run"),
            "-c", str(lab.master_dir), "--out=json", "state.orch", sls, f"pillar={json.dumps(pillar)}"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def kill_run(proc):
    """SIGKILL the orchestration and every process it forked (its parallel steps)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def site_job(lab, site, *calls):
    """``{function: return}`` of ``calls`` (``(function, *args)`` each, distinct functions) run in
    one job by the site's minion daemon, through the master: one job sent from this process for
    them all (tests/salt_clients.py), and none of the grains and pillar a ``salt-call`` process
    would compile first."""
    funs = [call[0] for call in calls]
    assert len(set(funs)) == len(funs), f"one answer per function name: {funs}"
    found = salt_clients.job(lab.master_conf, site, funs, [list(call[1:]) for call in calls]).get(site)
    answer = found["ret"] if salt_clients.succeeded(found) else None
    assert isinstance(answer, dict) and set(answer) == set(funs), f"{funs} on {site}: {found!r}"
    return answer


def together(*questions):
    """The answers of ``questions`` (callables without arguments), in order, asked side by side:
    read-only questions to different daemons (a site job, a marker job, a runner) need not wait
    for each other. An exception in one is raised here."""
    with concurrent.futures.ThreadPoolExecutor(len(questions)) as pool:
        futures = [pool.submit(question) for question in questions]
        return [future.result() for future in futures]


def places_of(listing):
    """``{image: [places]}`` from a site's ``jetson_rootfs.list``: a board, or "store"."""
    places = {}
    for item in listing:
        places.setdefault(item["image"], []).append(item["board"] if item["where"] == "board" else "store")
    return places


def state_of(lab, board):
    journal = site_job(lab, lab.site_of(board), ("jetson_rootfs.state", board))["jetson_rootfs.state"]
    assert isinstance(journal, dict), f"{board}'s journal: {journal!r}"
    return journal


def state_and_images(lab, board):
    """``(state_of(board), where_images(its site))`` in one site job."""
    answer = site_job(lab, lab.site_of(board), ("jetson_rootfs.state", board), ("jetson_rootfs.list",))
    journal, listing = answer["jetson_rootfs.state"], answer["jetson_rootfs.list"]
    assert isinstance(journal, dict) and isinstance(listing, list), answer
    return journal, places_of(listing)


def states_of(lab, boards):
    """``{board: journal}`` for ``boards``: one ``jetson_rootfs.state`` (every board) per site."""
    journals = {}
    for site in sorted({lab.site_of(board) for board in boards}):
        found = site_job(lab, site, ("jetson_rootfs.state",))["jetson_rootfs.state"]
        assert isinstance(found, dict), f"{site}'s journals: {found!r}"
        journals.update(found)
    return {board: journals.get(board) for board in boards}


def where_images(lab, site="site01"):
    """``{image: [places]}`` from the site's list: every image must have exactly one place."""
    listing = site_job(lab, site, ("jetson_rootfs.list",))["jetson_rootfs.list"]
    assert isinstance(listing, list), f"{site}'s image list: {listing!r}"
    return places_of(listing)


def marker(lab, board):
    found = salt_clients.job(lab.master_conf, board, "grains.get", ["jetson_marker"], timeout=10).get(board)
    return found["ret"] if salt_clients.succeeded(found) else None


def markers(lab, boards, wait=30):
    """``{board: its jetson_marker grain}`` in one job (None for a board that did not answer)."""
    found = salt_clients.job(lab.master_conf, boards, "grains.get", ["jetson_marker"], timeout=wait,
                             tgt_type="list")
    return {board: answer if isinstance(answer := (found.get(board) or {}).get("ret"), dict) else None
            for board in boards}


def sessions(lab, board):
    return salt_clients.run(lab.master_conf, "jetson.sessions", board=board)


def last_sessions(lab, boards):
    """``{board: its latest session row}`` (None if it has none) from one ``jetson.sessions``."""
    rows = salt_clients.run(lab.master_conf, "jetson.sessions")
    assert isinstance(rows, list), rows
    latest = {row["board"]: row for row in rows}  # the runner lists the oldest first
    return {board: latest.get(board) for board in boards}


def clone_images(lab, pairs, site="site01", timeout=300):
    """``jetson_rootfs.clone src dst`` on ``site`` for each ``(src, dst)``, in turn: jobs sent from
    this process, not a CLI process each; fails naming a clone that failed."""
    for src, dst in pairs:
        salt_clients.answer(lab.master_conf, site, "jetson_rootfs.clone", src, dst, timeout=timeout)


class EventWatch:
    """Collects the master's ``jetson/...`` events (and ``prefixes``) from the moment it is made."""

    def __init__(self, lab, prefixes=("jetson/",)):
        opts = salt_clients.master_opts(lab.master_conf)
        self.bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
        self.prefixes = tuple(prefixes)
        for prefix in self.prefixes:
            self.bus.subscribe(prefix)
        self.events = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while not self._stop.is_set():
            event = self.bus.get_event(wait=0.2, full=True)
            if event and event["tag"].startswith(self.prefixes):
                self.events.append((event["tag"], event["data"]))

    def tags(self, prefix=""):
        return [tag for tag, _ in self.events if tag.startswith(prefix)]

    def data(self, tag):
        return [data for t, data in self.events if t == tag]

    def wait_for(self, tag, timeout=300):
        deadline = time.monotonic() + timeout
        while tag not in self.tags():
            if time.monotonic() > deadline:
                raise AssertionError(f"no event {tag} within {timeout}s; saw {self.tags()}")
            time.sleep(0.05)
        return self.data(tag)[-1]

    def wait_for_job(self, fun, timeout=300, minion=None, since=0):
        """The ``salt/job/<jid>/new`` data of the first job of ``fun`` (sent to ``minion``, if
        given) published since the watch began, or since its event number ``since`` (an index
        into ``events``; the watch needs the prefix ``salt/job/``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [data for tag, data in self.events[since:]
                     if tag.startswith("salt/job/") and tag.endswith("/new") and data.get("fun") == fun
                     and (minion is None or minion in data.get("minions", []))]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no job {fun} within {timeout}s")
            time.sleep(0.02)

    def wait_for_run(self, fun, timeout=300):
        """The ``salt/run/<jid>/ret`` data of the first runner job of ``fun`` (e.g.
        ``runner.jetson.enroll_site``, as the reactor runs it) that ended since the watch began
        (the watch needs the prefix ``salt/run/``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [data for tag, data in self.events
                     if tag.startswith("salt/run/") and tag.endswith("/ret") and data.get("fun") == fun]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no runner job {fun} ended within {timeout}s")
            time.sleep(0.05)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.bus.destroy()


def step_tags(board):
    return [f"jetson/switch/{board}/{step}" for step in STEPS]
