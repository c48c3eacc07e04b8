"""Switches started through a real salt-api (rest_cherrypy, ``runner_async``), as the calendar
bridge starts them with ``salt.mode: api``, against the lab's master.

The master runs every ``runner_async`` job in a process forked from one of its long-lived request
workers (MWorker), so the parent of the process that runs an orchestration does not tell two
runs apart: two switches of one board at once must still see each other as two runs, the
second refused as busy, never resuming or closing the first.
"""

import json
import os
import signal
import subprocess
import time

import pytest
import requests

from tests.caldav_servers import free_port
from tests.lab_fixture import BIN, UP_TIMEOUT, _bring_up, _tear_down
from tests.switch_helpers import EventWatch, sessions, state_of

BOARD = "jtk1"
IMAGE = "alice/cuda-dev"
SECRET = "api-shared-secret"
API_TIMEOUT = 30
API_START_TIMEOUT = 120


@pytest.fixture(scope="module")
def api_lab(tmp_path_factory):
    """A lab of one board whose master takes eauth, with a salt-api on it: ``(lab, url)``.

    One request worker on the master: every runner_async job is then forked from that one
    long-lived process, as two jobs often are from one of several workers.
    """
    run_dir = tmp_path_factory.mktemp("salt-api")
    port = free_port()
    lab = _bring_up(["--boards", 1], UP_TIMEOUT, master_conf={
        "worker_threads": 1,
        "sharedsecret": SECRET,
        "external_auth": {"sharedsecret": {"bridge": [{"@runner": [
            {"state.orch": {"args": [r"jetson\..*"]}}, "jobs.lookup_jid"]}]}},
        "rest_cherrypy": {"host": "127.0.0.1", "port": port, "disable_ssl": True},
        "netapi_enable_clients": ["runner", "runner_async"],
        "api_pidfile": str(run_dir / "salt-api.pid"),
        "api_logfile": str(run_dir / "salt-api.log"),
    })
    proc = None
    try:
        proc = subprocess.Popen([str(BIN / "salt-api"), "-c", str(lab.master_dir)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        _wait_listening(proc, url)
        yield lab, url
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        _tear_down(lab.dir)


def _wait_listening(proc, url):
    deadline = time.monotonic() + API_START_TIMEOUT
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"salt-api did not listen on {url} (exit code {proc.poll()})") from None
            time.sleep(0.2)


class Api:
    """The ``bridge`` eauth user's session with salt-api."""

    def __init__(self, url):
        self.url, self.session = url, requests.Session()
        login = self.session.post(f"{url}/login", json={"username": "bridge", "password": SECRET,
                                                         "eauth": "sharedsecret"}, timeout=API_TIMEOUT)
        assert login.status_code == 200, login.text[:300]
        self.session.headers["X-Auth-Token"] = login.json()["return"][0]["token"]

    def post(self, low):
        answer = self.session.post(f"{self.url}/", json=[low], timeout=API_TIMEOUT)
        assert answer.status_code == 200, answer.text[:300]
        return answer.json()["return"][0]

    def switch_async(self, board, image):
        started = self.post({"client": "runner_async", "fun": "state.orch", "arg": ["jetson.switch"],
                             "kwarg": {"pillar": {"board": board, "image": image}}})
        return started["jid"]


def test_two_switches_of_one_board_at_once_through_salt_api_the_second_is_refused(api_lab):
    lab, url = api_lab
    client = Api(url)
    watch = EventWatch(lab, prefixes=("jetson/", "salt/run/"))
    try:
        first = client.switch_async(BOARD, IMAGE)
        taken = watch.wait_for(f"jetson/switch/{BOARD}/lease")
        assert taken["result"] == "ok" and taken["resumed"] is False, taken
        second = client.switch_async(BOARD, IMAGE)
        refused = watch.wait_for(f"salt/run/{second}/ret", timeout=600)
        finished = watch.wait_for(f"salt/run/{first}/ret", timeout=900)
        leases = watch.data(f"jetson/switch/{BOARD}/lease")
    finally:
        watch.close()
    assert f"{BOARD}: FAILED: {BOARD}: refused: board {BOARD} is busy: alice is switching it to {IMAGE}" \
        in json.dumps(refused), json.dumps(refused)[:3000]
    assert f"{BOARD}: ok: " in json.dumps(finished), json.dumps(finished)[:3000]
    assert [(d["result"], d.get("resumed")) for d in leases] == [("ok", False), ("failed", None)], leases
    assert f"switch {taken['switch_id']}" in leases[1]["reason"]
    state = state_of(lab, BOARD)
    assert (state["image"], state["switch_id"]) == (IMAGE, taken["switch_id"])
    row = sessions(lab, BOARD)[-1]
    assert (row["switch_id"], row["outcome"]) == (taken["switch_id"], "active")
