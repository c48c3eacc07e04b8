"""Which driver module serves a board: adding a driver is adding one module and one line here."""

from jetson_farm.power.drivers import http, ipmi, lab, salt, ssh, wol
from jetson_farm.power.errors import PowerConfigError

DRIVERS = {"salt": salt, "ssh": ssh, "wol": wol, "http": http, "ipmi": ipmi, "lab": lab}


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
    return module.Driver(module.Device.from_pillar(board, spec, site_root))


def power_problems(board, site_root="/"):
    """Every mistake in ``board``'s power settings, as a list (empty when they are fine)."""
    try:
        driver_for(board, site_root)
    except PowerConfigError as err:
        return err.problems
    return []
