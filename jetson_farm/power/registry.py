"""Which driver module serves a board: adding a driver is adding one module and one line here."""

import logging

from jetson_farm.power.drivers import http, ipmi, lab, salt, ssh, wol
from jetson_farm.power.errors import PowerConfigError

log = logging.getLogger(__name__)

DRIVERS = {"salt": salt, "ssh": ssh, "wol": wol, "http": http, "ipmi": ipmi, "lab": lab}


def own_settings(name, spec):
    """``spec`` without the keys that belong to other drivers only.

    A board's mapping is merged over ``defaults.power``: with defaults ``{driver: lab, socket: ..}``
    a board of driver ``salt`` inherits ``socket``, which is not its mistake. A key that no driver
    knows (a typo such as ``cycel``, or a ``password``) is kept, so the driver names it.
    """
    mine = set(DRIVERS[name].KEYS) | {"driver"}
    others = {key for module in DRIVERS.values() for key in module.KEYS} - mine
    ignored = sorted(key for key in spec if key in others)
    if ignored:
        log.debug("power driver %s: ignoring the settings of other drivers: %s", name, ", ".join(ignored))
    return {key: value for key, value in spec.items() if key not in others}


def driver_for(board, site_root):
    """The driver of inventory ``board`` (its merged ``power`` mapping), its settings checked.

    ``site_root`` is the board's site root folder (defaults such as the ssh key live under it).
    PowerConfigError names every mistake in the mapping.
    """
    spec = dict(board.power or {})
    name = spec.get("driver")
    module = DRIVERS.get(name) if isinstance(name, str) else None
    if module is None:
        raise PowerConfigError(board.name, name, [
            f"boards.{board.name}.power.driver: {name!r} is not one of {', '.join(DRIVERS)}"])
    return module.Driver(module.Device.from_pillar(board, own_settings(name, spec), site_root))


def power_problems(board, site_root="/"):
    """Every mistake in ``board``'s power settings, as a list (empty when they are fine)."""
    try:
        driver_for(board, site_root)
    except PowerConfigError as err:
        return err.problems
    return []
