"""A test-only hook that kills this process at a named point, to prove crash safety.

Set ``JETSON_FARM_CRASH_AT`` to a point name (``rename:move-target``) or to a number N (the
N-th point reached) and the process SIGKILLs itself there, like a power cut would stop it.
``JETSON_FARM_CRASH_TRACE`` (a file path) records every point reached, one name a line.
Never set these on a real site server.
"""

import logging
import os
import signal

log = logging.getLogger(__name__)

CRASH_AT = "JETSON_FARM_CRASH_AT"
CRASH_TRACE = "JETSON_FARM_CRASH_TRACE"

_reached = 0


def crash_point(name):
    """Die here if the test hook asks for this point; otherwise nothing."""
    global _reached
    spec = os.environ.get(CRASH_AT)
    trace = os.environ.get(CRASH_TRACE)
    if not spec and not trace:
        return
    _reached += 1
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")
    if spec and (spec == name or (spec.isdigit() and int(spec) == _reached)):
        log.warning("%s=%s: killing this process at %s", CRASH_AT, spec, name)
        os.kill(os.getpid(), signal.SIGKILL)
