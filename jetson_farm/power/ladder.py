"""Step 2 of the switch, Kadeploy's ladder: wait for the board to go down, else cut its power.

1. wait until the board holds no NFS session and answers no ping (``wait_idle``);
2. past the timeout, a hard power off where the driver can (a cycle where it can only cycle),
   then wait again;
3. else fail, naming what still held, having touched nothing.
"""

import logging
import time

from jetson_farm.errors import Timeout
from jetson_farm.power.errors import StillUp

log = logging.getLogger(__name__)


def ensure_down(driver, wait_idle, timeout, off_timeout=None):
    """Return once ``driver``'s board is down; StillUp naming what held when it cannot be brought down.

    ``timeout`` bounds the first wait, ``off_timeout`` (default ``timeout``) the wait after the
    hard off: an NFS server may keep a powered-off client's state until its lease runs out.

    ``wait_idle(seconds)`` returns when the board is idle and raises ``jetson_farm.errors.Timeout``
    (with what still held) when it is not; any other error stops the ladder untouched.
    Returns ``{"board", "driver", "down": True, "escalated", "did", "powered_off", "waited",
    "held"}``: ``did`` is None, "off" or "cycle"; ``powered_off`` tells step 6 to power it on;
    ``held`` is what kept the board up before the escalation (None when it went down alone).
    """
    report = {"board": driver.board, "driver": driver.name, "down": True, "escalated": False,
              "did": None, "powered_off": False, "waited": 0.0, "held": None}
    started = time.monotonic()
    try:
        wait_idle(timeout)
    except Timeout as err:
        held = str(err)
    else:
        report["waited"] = round(time.monotonic() - started, 1)
        return report
    escalation = "off" if "off" in driver.actions else "cycle" if "cycle" in driver.actions else None
    if escalation is None:
        raise StillUp(f"board {driver.board}, power driver {driver.name}: the board is still up after "
                      f"{timeout}s and this driver has no hard power, so nothing was touched: {held}")
    log.warning("board %s, power driver %s: still up after %ss (%s); escalating with a hard %s",
                driver.board, driver.name, timeout, held, escalation)
    power = getattr(driver, escalation)()
    report.update(escalated=True, did=escalation, powered_off=escalation == "off", held=held)
    off_timeout = timeout if off_timeout is None else off_timeout
    try:
        wait_idle(off_timeout)
    except Timeout as err:
        raise StillUp(f"board {driver.board}, power driver {driver.name}: the board is still up "
                      f"{off_timeout}s after a hard {escalation} (power {power}): {err}") from err
    report["waited"] = round(time.monotonic() - started, 1)
    return report
