"""The runner's hands: calls to the site and board minions and events, through Salt's clients.

The only file of jetson_farm.runner that imports Salt; the steps take an object of this shape,
so they stay plain Python.
"""

import contextlib
import logging

import salt.client
import salt.crypt
import salt.exceptions
import salt.key
import salt.utils.event
import salt.utils.files

from jetson_farm.runner.site import MinionError

log = logging.getLogger(__name__)


class SaltOps:
    """Calls through the master ``opts`` of the runner that builds it."""

    def __init__(self, opts):
        self.opts = opts

    def _client(self):
        return salt.client.LocalClient(mopts=self.opts)

    def call(self, minion, fun, *args, timeout=60, **kwargs):
        """The return of ``fun`` on ``minion``; MinionError with the minion's message if it failed."""
        log.debug("calling %s on %s %s %s", fun, minion, args, kwargs)
        returns = self._client().cmd(minion, fun, arg=list(args), kwarg=kwargs or None,
                                     timeout=timeout, full_return=True)
        answer = returns.get(minion)
        if not isinstance(answer, dict):
            raise MinionError(f"{minion}: {fun} got no answer within {timeout}s (is the minion up?)")
        value = answer.get("ret")
        if answer.get("retcode", 0) != 0 or (isinstance(value, str) and value.startswith("ERROR")):
            text = str(value)
            for prefix in ("ERROR: ",):
                text = text.removeprefix(prefix)
            raise MinionError(f"{minion}: {fun} failed: {text}")
        return value

    def try_call(self, minion, fun, *args, timeout=5, **kwargs):
        """``(answered, value)``: like :meth:`call`, but a silent minion is an answer too."""
        # A minion that is not connected would otherwise cost the master's gather_job_timeout
        # (10 s) on top of ``timeout``: it is asked whether it still runs the job.
        returns = self._client().cmd(minion, fun, arg=list(args), kwarg=kwargs or None,
                                     timeout=timeout, full_return=True, gather_job_timeout=1)
        answer = returns.get(minion)
        if not isinstance(answer, dict):
            return False, None
        return True, answer.get("ret")

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
        returns = self._client().cmd(sorted(minions), "test.ping", tgt_type="list", timeout=timeout,
                                     gather_job_timeout=gather_job_timeout)
        return {minion for minion, value in returns.items() if value is True}

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
