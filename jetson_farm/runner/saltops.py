"""The runner's hands: calls to the site and board minions and events, through Salt's clients.

The only file of jetson_farm.runner that imports Salt; the steps take an object of this shape,
so they stay plain Python.
"""

import contextlib
import logging
import time

import salt.client
import salt.crypt
import salt.exceptions
import salt.key
import salt.utils.event
import salt.utils.files
import salt.utils.jid

from jetson_farm.runner.jobcache import JobCache, answer
from jetson_farm.runner.site import MinionError

log = logging.getLogger(__name__)


CONFIRM_MIN = 2.0  # seconds an answer seen on the bus is at least looked for in the job cache


class SaltOps:
    """Calls through the master ``opts`` of the runner that builds it. Every answer is the one
    the master's job cache holds (:mod:`jetson_farm.runner.jobcache`), not what came on the bus."""

    def __init__(self, opts):
        self.opts = opts
        self._cache = None

    @property
    def cache(self):
        if self._cache is None:
            self._cache = JobCache(self.opts)
        return self._cache

    def _client(self):
        return salt.client.LocalClient(mopts=self.opts)

    def _confirmed(self, minions, fun, args, kwargs, timeout, **options):
        """Run ``fun`` on ``minions`` and wait as ``LocalClient.cmd`` does: ``{minion: stored
        return}`` of those whose answer the master stored in its job cache. A minion the bus
        says answered is looked for there for the rest of ``timeout`` (the master fires the
        event before it writes the cache; a forged event is never written)."""
        jid = salt.utils.jid.gen_jid(self.opts)
        began = time.monotonic()
        client = self._client()
        try:
            seen = client.cmd(sorted(minions), fun, arg=list(args), kwarg=kwargs or None, tgt_type="list",
                              timeout=timeout, jid=jid, full_return=True, **options)
        finally:
            client.destroy()
        answered = [m for m in minions if isinstance((seen or {}).get(m), dict)]
        return self.cache.wait(jid, answered, max(CONFIRM_MIN, timeout - (time.monotonic() - began)))

    def call(self, minion, fun, *args, timeout=60, gather_job_timeout=None, **kwargs):
        """The return of ``fun`` on ``minion``; MinionError with the minion's message if it failed.
        ``gather_job_timeout``: how long a minion silent past ``timeout`` is given to say it still
        runs the job (default: the master's)."""
        log.debug("calling %s on %s %s %s", fun, minion, args, kwargs)
        options = {} if gather_job_timeout is None else {"gather_job_timeout": gather_job_timeout}
        stored = self._confirmed([minion], fun, args, kwargs, timeout, **options).get(minion)
        if stored is None:
            raise MinionError(f"{minion}: {fun} got no answer within {timeout:g}s (is the minion up?)")
        ok, value = answer(stored)
        if not ok:
            raise MinionError(f"{minion}: {fun} failed: {value}")
        return value

    def try_call(self, minion, fun, *args, timeout=5, **kwargs):
        """``(answered, value)``: like :meth:`call`, but a silent minion is an answer too."""
        # A minion that is not connected would otherwise cost the master's gather_job_timeout
        # (10 s) on top of ``timeout``: it is asked whether it still runs the job.
        stored = self._confirmed([minion], fun, args, kwargs, timeout, gather_job_timeout=1).get(minion)
        if stored is None:
            return False, None
        return True, stored.get("return")

    def fire(self, tag, data):
        with salt.utils.event.get_master_event(self.opts, self.opts["sock_dir"], listen=False) as bus:
            bus.fire_event(dict(data), tag)

    @contextlib.contextmanager
    def minion_starts(self, minion):
        """A waiter that returns early when ``minion`` (re)connects; listens from the moment it is made."""
        bus = salt.utils.event.get_master_event(self.opts, self.opts["sock_dir"], listen=True)
        try:
            bus.subscribe(f"salt/minion/{minion}/start")

            def wait(seconds):
                return bus.get_event(wait=max(seconds, 0.01), tag=f"salt/minion/{minion}/start",
                                     full=True) is not None

            yield wait
        finally:
            bus.destroy()

    def accept_key(self, minion, pub):
        """Accept the PEM public key ``pub`` for ``minion`` on the master, as ``salt-key -a`` does.

        The key is put in the pending bucket, then accepted through :class:`salt.key.Key` (which
        checks it and fires ``salt/key``); any key held for ``minion`` before is replaced.
        """
        try:
            salt.crypt.PublicKey.from_str(pub)
        except (salt.exceptions.InvalidKeyError, TypeError, ValueError) as err:
            raise MinionError(f"the public key given for {minion} is not a PEM public key: {err}") from None
        with salt.key.Key(self.opts) as keys:
            keys.cache.store("keys", minion, {"pub": pub, "state": "pending"})
            keys.accept(match_dict={keys.PEND: [minion]})
            accepted = keys.list_status("accepted").get(keys.ACC, [])
        if minion not in accepted:
            raise MinionError(f"the master did not accept the key of {minion}")

    def accepted_pub(self, minion):
        """The public key the master has accepted for ``minion``, or None."""
        with salt.key.Key(self.opts) as keys:
            if minion not in keys.list_status("accepted").get(keys.ACC, []):
                return None
            return (keys.cache.fetch("keys", minion) or {}).get("pub")

    def answering(self, minions, timeout=3, gather_job_timeout=3):
        """Those of ``minions`` that answer ``test.ping`` within ``timeout`` seconds, or later
        for a minion that says within ``gather_job_timeout`` that it is still on it (a slow
        board just after its boot)."""
        if not minions:
            return set()
        stored = self._confirmed(minions, "test.ping", (), None, timeout,
                                 gather_job_timeout=gather_job_timeout)
        return {minion for minion, ret in stored.items() if ret.get("return") is True}

    def jetson_pillar(self, show_pillar, memo):
        """``(jetson pillar, minion id)`` as the master compiles it, or ``({}, None)``.

        Tries the master opt ``jetson_pillar_minion`` alone if set; else the minion remembered
        in the file ``memo``, the master's own id, then every accepted minion (the first that
        has the pillar is remembered: compiling every minion's pillar is slow).
        """
        wanted = self.opts.get("jetson_pillar_minion")
        candidates = [wanted] if wanted else []
        if not wanted:
            try:
                with salt.utils.files.fopen(memo) as handle:
                    candidates.append(handle.read().strip())
            except OSError:
                pass
            accepted = salt.key.get_key(self.opts).list_status("accepted").get("minions", [])
            candidates += [self.opts["id"], *sorted(accepted)]
        for minion in dict.fromkeys(c for c in candidates if c):
            pillar = show_pillar(minion)
            if isinstance(pillar, dict) and pillar.get("jetson"):
                if not wanted and candidates[0] != minion:
                    with salt.utils.files.fopen(memo, "w") as handle:
                        handle.write(minion)
                return pillar["jetson"], minion
        return {}, None
