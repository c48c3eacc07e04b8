"""Helpers for the switch/release tests against a lab (tests/lab_fixture.py): run the
orchestrations, watch the master's event bus, and read where every image is."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import salt.config
import salt.utils.event

from jetson_farm.switch import STEPS


def prepared(lab):
    """The lab with the repo's runner and site modules synced (once per lab)."""
    if not getattr(lab, "_runner_synced", False):
        for result in (lab.salt_run(["saltutil.sync_all"]), lab.salt([lab.site, "saltutil.sync_all"])):
            assert result.returncode == 0, result
        lab._runner_synced = True
    return lab


def orchestrate(lab, sls, pillar, timeout=900):
    """``salt-run state.orch <sls> pillar=<json>``: a lab Result."""
    return lab.salt_run(["state.orch", sls, f"pillar={json.dumps(pillar)}"], timeout=timeout)


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


def state_of(lab, board):
    result = lab.salt_call_site(["jetson_rootfs.state", board], site=lab.site_of(board))
    assert result.returncode == 0, result
    return result.data


def where_images(lab, site="site01"):
    """``{image: [places]}`` from the site's list: every image must have exactly one place."""
    result = lab.salt_call_site(["jetson_rootfs.list"], site=site)
    assert result.returncode == 0, result
    places = {}
    for item in result.data:
        places.setdefault(item["image"], []).append(item["board"] if item["where"] == "board" else "store")
    return places


def marker(lab, board):
    result = lab.salt(["-t", "10", board, "grains.get", "jetson_marker"], timeout=60)
    return result.of(board) if result.returncode == 0 else None


def sessions(lab, board):
    result = lab.salt_run(["jetson.sessions", f"board={board}"])
    assert result.returncode == 0, result
    return result.data


class EventWatch:
    """Collects the master's ``jetson/...`` events (and ``prefixes``) from the moment it is made."""

    def __init__(self, lab, prefixes=("jetson/",)):
        opts = salt.config.master_config(str(lab.master_dir / "master"))
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

    def wait_for_job(self, fun, timeout=300):
        """The ``salt/job/<jid>/new`` data of the first job of ``fun`` published since the watch began
        (the watch needs the prefix ``salt/job/``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [data for tag, data in self.events
                     if tag.startswith("salt/job/") and tag.endswith("/new") and data.get("fun") == fun]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no job {fun} within {timeout}s")
            time.sleep(0.02)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.bus.destroy()


def step_tags(board):
    return [f"jetson/switch/{board}/{step}" for step in STEPS]
