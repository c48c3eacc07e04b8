"""Reaching Salt: ``local`` (Salt's RunnerClient with the master's config, in this process) or
``api`` (salt-api rest_cherrypy with eauth, over ``requests``, every call with a timeout).

Both give the same six calls: ``status()`` (``jetson.status``), ``switch(boards)`` and
``release(boards)`` (``state.orch`` of ``jetson.switch``/``jetson.release``, one call for all
boards so they run in parallel), ``copies(items)`` (``jetson.working_copies``: users' copies of
shared images, made ahead of their slots), ``set_bookings(bookings)`` (``jetson.set_bookings``:
the bookings not yet ended, to every site) and ``jetson_pillar(minion)``. A call that cannot be
made raises SaltError; an orchestration that ran returns ``{"jid", "success", "return"}``.
"""

import contextlib
import io
import logging
import time

import requests

from calendar_bridge.errors import SaltError
from jetson_farm.salt_noise import hide_salt_leak_warnings

log = logging.getLogger(__name__)

API_TIMEOUT = 30  # one HTTP request; the orchestration's own wait is salt.timeout
POLL_SECONDS = 2


def _orch_pillar_switch(boards):
    return {"boards": {b: {"image": v["image"], "user": v["user"]} for b, v in sorted(boards.items())}}


class LocalSalt:
    """The runner client of the master this bridge runs on."""

    def __init__(self, master_config, timeout=1800):
        self.master_config = master_config
        self.timeout = timeout
        self._client = None

    def _runner(self):
        if self._client is None:
            try:
                import salt.config
                import salt.runner
            except ImportError as err:
                raise SaltError(f"salt.mode local: Salt is not importable here: {err}") from err
            hide_salt_leak_warnings()
            try:
                opts = salt.config.master_config(self.master_config)
            except Exception as err:  # Salt raises many types on an unreadable config
                raise SaltError(f"salt.master_config {self.master_config}: {err}") from err
            self._client = salt.runner.RunnerClient(opts)
        return self._client

    def _call(self, fun, arg=(), kwarg=None):
        printed = io.StringIO()
        try:
            # Salt's clients print some notices ("No minions matched...") on stdout, which is
            # the bridge's own (--json) output: keep them for the log instead.
            with contextlib.redirect_stdout(printed):
                runner = self._runner()
                # As salt-run does: without the caller's user, an orchestration's LocalClient
                # finds no key and every publish fails with AuthenticationError.
                import salt.utils.user

                data = runner.cmd(fun, arg=list(arg), kwarg=kwarg or {}, print_event=False,
                                  full_return=True,
                                  pub_data={"user": salt.utils.user.get_specific_user()})
        except SaltError:
            raise
        except Exception as err:  # the runner's own failure, whatever it raised
            raise SaltError(f"salt-run {fun}: {err}") from err
        finally:
            if printed.getvalue().strip():
                log.info("salt-run %s printed: %s", fun, printed.getvalue().strip()[:2000])
        if not isinstance(data, dict):
            raise SaltError(f"salt-run {fun}: unexpected answer {data!r:.200}")
        return data

    def close(self):
        if self._client is not None:
            self._client.destroy()
            self._client = None

    def status(self):
        data = self._call("jetson.status")
        if not data.get("success", True):
            raise SaltError(f"salt-run jetson.status failed: {str(data.get('return'))[:300]}")
        return _board_rows(data.get("return"))

    def _orch(self, mods, pillar):
        data = self._call("state.orch", arg=[mods], kwarg={"pillar": pillar})
        return {"jid": str(data.get("jid", "")), "success": bool(data.get("success")),
                "return": data.get("return")}

    def switch(self, boards):
        return self._orch("jetson.switch", _orch_pillar_switch(boards))

    def release(self, boards):
        return self._orch("jetson.release", {"boards": sorted(boards)})

    def copies(self, items):
        data = self._call("jetson.working_copies", kwarg={"copies": list(items)})
        return _copies_answer(data.get("return"))

    def set_bookings(self, bookings):
        data = self._call("jetson.set_bookings", kwarg={"bookings": list(bookings)})
        return _bookings_answer(data.get("return"))

    def jetson_pillar(self, minion):
        data = self._call("pillar.show_pillar", arg=[minion])
        pillar = data.get("return")
        if not isinstance(pillar, dict) or not isinstance(pillar.get("jetson"), dict):
            raise SaltError(f"the pillar of minion {minion!r} has no jetson mapping")
        return pillar["jetson"]


class ApiSalt:
    """salt-api's rest_cherrypy, logged in with eauth; the token is renewed when it expires."""

    def __init__(self, url, username, password, eauth, timeout=1800):
        self.url = url.rstrip("/")
        self.username, self._password, self.eauth = username, password, eauth
        self.timeout = timeout
        self._token = None
        self.session = requests.Session()

    def _login(self):
        try:
            response = self.session.post(f"{self.url}/login", json={
                "username": self.username, "password": self._password, "eauth": self.eauth},
                timeout=API_TIMEOUT)
        except requests.RequestException as err:
            raise SaltError(f"salt-api {self.url}: cannot log in: {err}") from err
        if response.status_code != 200:
            raise SaltError(f"salt-api {self.url}: login as {self.username!r} refused "
                            f"({response.status_code})")
        self._token = response.json()["return"][0]["token"]

    def _post(self, low, retry=True):
        if self._token is None:
            self._login()
        try:
            response = self.session.post(self.url + "/", json=[low], timeout=API_TIMEOUT,
                                         headers={"X-Auth-Token": self._token, "Accept": "application/json"})
        except requests.RequestException as err:
            raise SaltError(f"salt-api {self.url}: {low['fun']}: {err}") from err
        if response.status_code == 401 and retry:
            self._token = None
            return self._post(low, retry=False)
        if response.status_code != 200:
            raise SaltError(f"salt-api {self.url}: {low['fun']} answered {response.status_code}: "
                            f"{response.text[:200]}")
        try:
            return response.json()["return"][0]
        except (ValueError, KeyError, IndexError) as err:
            raise SaltError(f"salt-api {self.url}: {low['fun']}: unreadable answer") from err

    def close(self):
        self.session.close()

    def status(self):
        return _board_rows(self._post({"client": "runner", "fun": "jetson.status"}))

    def _run_async(self, fun, arg, kwarg, what):
        """``(jid, return)`` of the runner ``fun`` started with runner_async, polled until done."""
        started = self._post({"client": "runner_async", "fun": fun, "arg": arg, "kwarg": kwarg})
        jid = started.get("jid") if isinstance(started, dict) else None
        if not jid:
            raise SaltError(f"salt-api: {what} was not started: {str(started)[:300]}")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = self._post({"client": "runner", "fun": "jobs.lookup_jid", "jid": jid})
            if found:
                return jid, found
            time.sleep(POLL_SECONDS)
        raise SaltError(f"salt-api: {what} (jid {jid}) did not finish in {self.timeout}s")

    def _orch(self, mods, pillar):
        jid, found = self._run_async("state.orch", [mods], {"pillar": pillar}, f"state.orch {mods}")
        return {"jid": jid, "success": _orch_success(found), "return": found}

    def _runner_return(self, fun, kwarg):
        """What the runner ``fun`` returned, run with runner_async and polled until done."""
        _, found = self._run_async(fun, [], kwarg, fun)
        # jobs.lookup_jid gives a runner's job as {master id: {"fun", ..., "return"}}.
        jobs = list(found.values()) if isinstance(found, dict) and len(found) == 1 else []
        if jobs and isinstance(jobs[0], dict) and "fun" in jobs[0] and "return" in jobs[0]:
            found = jobs[0]["return"]
        return found

    def copies(self, items):
        return _copies_answer(self._runner_return("jetson.working_copies", {"copies": list(items)}))

    def set_bookings(self, bookings):
        return _bookings_answer(self._runner_return("jetson.set_bookings", {"bookings": list(bookings)}))

    def switch(self, boards):
        return self._orch("jetson.switch", _orch_pillar_switch(boards))

    def release(self, boards):
        return self._orch("jetson.release", {"boards": sorted(boards)})

    def jetson_pillar(self, minion):
        raise SaltError("salt.mode api cannot read the pillar: set inventory.pillar_file")


def _board_rows(result):
    """``jetson.status``'s answer, checked: board -> row; SaltError on the runner's failure."""
    if isinstance(result, dict) and (result.get("retcode") or "error" in result):
        raise SaltError(f"jetson.status failed: {result.get('error', result)}")
    if not isinstance(result, dict) or not all(isinstance(v, dict) for v in result.values()):
        raise SaltError(f"jetson.status gave no board table: {str(result)[:300]}")
    return result


def _farm_answer(fun, key, result):
    """The runner ``fun``'s answer, checked: ``{key: {...}, "failed": {name: reason}}`` (what
    failed in it is the farm's answer, not an error of the call); SaltError otherwise."""
    if isinstance(result, dict) and isinstance(result.get(key), dict) and isinstance(
            result.get("failed", {}), dict):
        return {key: result[key], "failed": result.get("failed") or {}}
    error = result.get("error") if isinstance(result, dict) else None
    raise SaltError(f"{fun} failed: {error or str(result)[:300]}")


def _copies_answer(result):
    """``jetson.working_copies``': ``{"done": {copy: ...}, "failed": {copy: reason}}``."""
    return _farm_answer("jetson.working_copies", "done", result)


def _bookings_answer(result):
    """``jetson.set_bookings``': ``{"sites": {site: {"bookings", "changed"}}, "failed": {site: reason}}``."""
    return _farm_answer("jetson.set_bookings", "sites", result)


def _board_reports(orch_return):
    """Every ``{"board": ..., ...}`` dict of an orchestration's return, in order."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("board"), str):
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(orch_return)
    return found


def board_errors(orch_return):
    """``{board: error}`` from an orchestration's return: the runner steps that failed say
    ``{"board": ..., "error": ...}``; the first error of each board is kept."""
    errors = {}
    for report in _board_reports(orch_return):
        if isinstance(report.get("error"), str):
            errors.setdefault(report["board"], report["error"])
    return errors


def boards_verified(orch_return):
    """The boards the switch engine saw come up on their switch's marker (``result`` True with a
    ``switch_id``): the strongest word there is that a board runs what it was switched to."""
    return {report["board"] for report in _board_reports(orch_return)
            if report.get("result") is True and report.get("switch_id") and "error" not in report}


def _orch_success(found):
    """False if any state of the orchestration's return failed."""
    def walk(value):
        if isinstance(value, dict):
            if value.get("result") is False or value.get("retcode") not in (None, 0):
                return False
            return all(walk(v) for v in value.values())
        return True
    return walk(found)


def connect(config):
    """The gateway the configuration asks for."""
    spec = config.salt
    if spec.mode == "api":
        return ApiSalt(spec.url, spec.username, spec.password, spec.eauth, spec.timeout)
    return LocalSalt(spec.master_config, spec.timeout)
