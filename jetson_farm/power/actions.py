"""Doing one power action on one board, and saying what the driver can do."""

import logging

from jetson_farm.power.base import ACTIONS

log = logging.getLogger(__name__)

DID = {"on": "on", "off": "off", "cycle": "cycle", "status": "status"}


def act(driver, action):
    """Run ``action`` on ``driver``'s board; the report every door returns.

    ``{"board", "driver", "action", "did", "power"}``: ``did`` is what was done (for ``reboot``
    the driver's ``reboot_kind``: soft-reboot, soft-off or off), ``power`` the state afterwards
    (on, off or unknown). Unsupported or PowerError otherwise, naming board, driver and cause.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown power action {action!r}: one of {', '.join(ACTIONS)}")
    power = getattr(driver, action)()
    did = driver.reboot_kind if action == "reboot" else DID[action]
    if action != "status":
        log.info("board %s, power driver %s: %s done (power %s)", driver.board, driver.name, did, power)
    return {"board": driver.board, "driver": driver.name, "action": action, "did": did, "power": power}


def capabilities(driver, minion=""):
    """What ``driver`` can do for its board.

    ``{"board", "driver", "actions": [...], "hard_power": bool, "reboot": kind or None,
    "minion"}``: ``actions`` lists what the site can run (``status`` always answers, ``unknown``
    when the device cannot tell); ``reboot`` is soft-reboot, soft-off, off, orchestration (the
    orchestration runs ``system.reboot`` on ``minion``) or None.
    """
    return {
        "board": driver.board,
        "driver": driver.name,
        "actions": sorted(driver.actions),
        "hard_power": driver.hard_power,
        "reboot": driver.reboot_kind if ("reboot" in driver.actions or driver.reboot_kind == "orchestration")
        else None,
        "minion": minion,
    }
