"""Hide the warnings Salt 3008.3 prints about objects of its own that it never destroys.

``salt-run`` never destroys its ``Runner``; ``RunnerClient.destroy()`` leaves the
``MasterMinion`` it made; ``saltutil.runner`` (each ``salt.runner`` state) and
``state.orchestrate`` drop theirs; and ``MasterMinion.__del__`` warns even after a proper
``destroy()``. Their finalizers then log ``unclosed Runner``/``RunnerClient``/``MasterMinion``
at the end of every ``salt-run`` and of every in-process orchestration (saltstack/salt#70174,
fix proposed in saltstack/salt#70177). Nothing of ours can close them, so these three messages,
on the two loggers that print them, are dropped; every other warning still shows, and the
clients our own code makes are destroyed explicitly. See docs/architecture.md, "Salt 3008 notes".
"""

import logging

SALT_OWN_LEAKS = {
    "salt.runner": ("unclosed Runner ", "unclosed RunnerClient "),
    "salt.minion": ("unclosed MasterMinion ",),
}


class SaltLeakFilter(logging.Filter):
    """Drops records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes):
        super().__init__()
        # Kept on the instance: the finalizers run at interpreter exit, when module globals
        # may already be gone.
        self.prefixes = tuple(prefixes)

    def filter(self, record):
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefixes))


def hide_salt_leak_warnings():
    """Install the filters (once per process; forked children inherit them)."""
    for name, prefixes in SALT_OWN_LEAKS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(existing, SaltLeakFilter) for existing in logger.filters):
            logger.addFilter(SaltLeakFilter(prefixes))
