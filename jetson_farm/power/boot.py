"""The switch's power steps for one board on the site: stop (1), down (2) and start (6).

Down is decided by events the site can see, not by timeouts: the board's power driver
reports it off (where the device can tell), or it answers no ping, probed every
``PROBE_INTERVAL`` with a short echo wait. The Kadeploy ladder around it (a hard off past the
timeout) is :func:`jetson_farm.power.ladder.ensure_down`.
"""

import logging
import time

from jetson_farm.errors import Timeout
from jetson_farm.nfs.common import answers_ping
from jetson_farm.power.base import OFF, UNKNOWN
from jetson_farm.power.errors import PowerError

log = logging.getLogger(__name__)

PROBE_INTERVAL = 0.1


def stop(driver):
    """Step 1: the driver's reboot (a soft reboot, a soft off or a hard off, as it can)."""
    if "reboot" not in driver.actions:
        # wol: nothing can stop the board from here; step 2 waits for it to go down.
        return {"stop": f"driver {driver.name} cannot stop the board; waiting for it to go down"}
    return {"stop": f"jetson_power.reboot ({driver.reboot_kind})", "power": driver.reboot()}


def power_word(driver):
    """The driver's word on the board's power: on, off, or unknown (a device that cannot tell)."""
    if "status" not in driver.actions:
        return UNKNOWN
    try:
        return driver.status()
    except PowerError as err:
        log.debug("%s", err)
        return UNKNOWN


def wait_down(driver, ip, seconds, pings=answers_ping):
    """How the board was seen down within ``seconds``: ``"power off"`` or ``"no ping"``; Timeout else."""
    deadline = time.monotonic() + seconds
    while True:
        power = power_word(driver)
        if power == OFF:
            return "power off"
        if not pings(ip):
            return "no ping"
        if time.monotonic() >= deadline:
            raise Timeout(f"board {driver.board} is still up after {seconds}s: its power is {power} "
                          f"and it answers ping at {ip}")
        time.sleep(PROBE_INTERVAL)


def start(driver, parked):
    """Step 6: power on where the board is off. A board that is on got here without its nfsroot
    (it restarted while unexported), so a driver with hard power cycles it. A parked board is
    powered off where the driver can."""
    power = power_word(driver)
    if parked:
        if power != OFF and "off" in driver.actions:
            return {"start": "parked: powered off", "power": driver.off()}
        return {"start": "parked: left as it is"}
    if power == OFF:
        return {"start": "powered on", "power": driver.on()}
    if "cycle" in driver.actions:
        return {"start": "power cycled", "power": driver.cycle()}
    if "on" in driver.actions:
        return {"start": f"powered on (power was {power})", "power": driver.on()}
    return {"start": f"left as it is (power {power}, driver {driver.name})"}
