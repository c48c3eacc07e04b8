"""Job returns as the master's job cache holds them: the answers a board cannot forge (rule 6).

A minion's return reaches the event bus as ``salt/job/<jid>/ret/<minion>``, but so does any event
a minion fires with ``event.fire_master`` in its ``events`` form: tag and data are the sender's
to write. The master writes its job cache only from ``_return`` loads (``AESFuncs._return`` ->
``salt.utils.job.store_job``), whose ``id`` the request channel has checked against the sender's
session key and token; a fired event never reaches it. ``store_job`` fires the return event
*before* it writes the cache, so a return seen on the bus is looked for here until it is written
(:meth:`JobCache.wait`). docs/architecture.md, "Rules no part may break", rule 6.
"""

import os
import time

import salt.loader
import salt.payload
import salt.utils.jid
import salt.utils.verify

from jetson_farm.errors import JetsonError

CONFIRM_POLL = 0.05  # seconds between two looks for a return the bus announced before the cache has it


class JobCacheOff(JetsonError):
    """The master keeps no job cache of its own, so no return can be confirmed."""


class JobCache:
    """Reads the returns the master stored for a job (``master_job_cache``, default ``local_cache``)."""

    def __init__(self, opts):
        if not opts.get("job_cache", True) or opts.get("ext_job_cache"):
            raise JobCacheOff(
                "the master's job cache is off (job_cache: False or ext_job_cache set): the farm "
                "takes a minion's answer only from the returns the master stores itself; set "
                "job_cache: True and use master_job_cache instead of ext_job_cache")
        self.opts = opts
        self.returner = opts.get("master_job_cache") or "local_cache"
        self._get_jid = None
        if self.returner == "local_cache":
            self._jobs = os.path.join(opts["cachedir"], "jobs")

    def returns(self, jid, minions):
        """``{minion: {"return", "retcode"?, "success"?}}``: those of ``minions`` whose return to
        ``jid`` the master has stored."""
        minions = [m for m in minions if isinstance(m, str) and salt.utils.verify.valid_id(self.opts, m)]
        if not minions:
            return {}
        if self.returner != "local_cache":
            stored = self._returner_get_jid()(jid) or {}
            return {m: stored[m] for m in minions if isinstance(stored.get(m), dict)}
        folder = salt.utils.jid.jid_dir(jid, self._jobs, self.opts["hash_type"])
        found = {}
        for minion in minions:
            try:
                with open(os.path.join(folder, minion, "return.p"), "rb") as handle:
                    data = salt.payload.load(handle)
            except FileNotFoundError:
                continue
            found[minion] = data if isinstance(data, dict) and "return" in data else {"return": data}
        return found

    def wait(self, jid, minions, seconds):
        """:meth:`returns`, waiting up to ``seconds`` for all of ``minions`` to be stored."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.returns(jid, minions)
            if len(found) == len(set(minions)) or time.monotonic() >= deadline:
                return found
            time.sleep(CONFIRM_POLL)

    def _returner_get_jid(self):
        if self._get_jid is None:
            self._get_jid = salt.loader.returners(self.opts, {})[f"{self.returner}.get_jid"]
        return self._get_jid


def answer(stored):
    """``(ok, value)`` of one stored return: ``ok`` False when the job failed (the value is then
    the minion's error text)."""
    value = stored.get("return")
    failed = stored.get("retcode", 0) not in (0, None) or stored.get("success") is False or (
        isinstance(value, str) and value.startswith("ERROR"))
    return not failed, (str(value).removeprefix("ERROR: ") if failed else value)
