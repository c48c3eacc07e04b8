"""Which driver module serves a board: adding a driver is adding one module and one line here.

The drivers' ``Settings`` models form one discriminated union on ``driver``
(``POWER_SETTINGS``): the inventory checks every board's ``power`` mapping through it, and
``driver_for`` builds the board's driver from it.
"""

from typing import Annotated, Union

from pydantic import Field, TypeAdapter, ValidationError

from jetson_farm.power.base import HARD_OFF
from jetson_farm.power.drivers import http, ipmi, lab, salt, ssh, wol
from jetson_farm.power.errors import PowerConfigError
from jetson_farm.schema import problems_of

DRIVERS = {"salt": salt, "ssh": ssh, "wol": wol, "http": http, "ipmi": ipmi, "lab": lab}
DRIVER_NAMES = tuple(DRIVERS)
POWER_SETTINGS = Annotated[Union[tuple(module.Settings for module in DRIVERS.values())],  # noqa: UP007
                           Field(discriminator="driver")]
DRIVER_KEYS = {name: frozenset(module.Settings.model_fields) for name, module in DRIVERS.items()}
POWER_KEYS = frozenset().union(*DRIVER_KEYS.values())
_ADAPTER = TypeAdapter(POWER_SETTINGS)


def keys_of(driver):
    """The pillar keys of ``driver`` (``driver`` included); empty for an unknown driver."""
    return DRIVER_KEYS.get(driver, frozenset()) if isinstance(driver, str) else frozenset()


def check_settings(spec, where):
    """``(settings or None, problems)`` for the merged ``power`` mapping ``spec`` found at ``where``.

    ``problems`` are ``path: message`` lines; the rules over several keys (``cross_checks``)
    are reported with the others, even when a key is also wrong.
    """
    problems, settings = [], None
    try:
        settings = _ADAPTER.validate_python(spec)
    except ValidationError as err:
        problems = problems_of(err, POWER_SETTINGS, where)
    if isinstance(spec, dict) and keys_of(spec.get("driver")):
        module = DRIVERS[spec["driver"]]
        problems += [f"{where}.{key}: {message}" if key else f"{where}: {message}"
                     for key, message in module.Settings.cross_checks(spec)]
    return (None if problems else settings), problems


def driver_for(board, site_root):
    """The driver of inventory ``board`` (its merged ``power`` mapping), its settings checked.

    ``site_root`` is the board's site root folder (defaults such as the ssh key live under it).
    PowerConfigError names every mistake in the mapping.
    """
    where = f"boards.{board.name}.power"
    settings, problems = check_settings(board.power, where)
    if settings is not None:
        problems = [f"{where}.{key}: {message}" for key, message in settings.board_problems(board)]
    if problems:
        driver = board.power.get("driver") if isinstance(board.power, dict) else None
        raise PowerConfigError(board.name, driver, problems)
    return DRIVERS[settings.driver].Driver(settings.resolve(board, site_root))


def power_shows_down(board):
    """Whether the switch can see inventory ``board`` down by its power (step 2): its driver
    reports the power (``status``), or the farm's own stop cuts it (``reboot_kind`` HARD_OFF, a
    relay: the board's connections then linger, as after any power cut). Else the board must
    also have left the master. False for a mapping with mistakes (its driver does nothing)."""
    settings, _ = check_settings(board.power, f"boards.{board.name}.power")
    if settings is None:
        return False
    driver = DRIVERS[settings.driver].Driver
    return driver.reboot_kind == HARD_OFF or settings.reports_power(driver)


def power_problems(board, site_root="/"):
    """Every mistake in ``board``'s power settings, as a list (empty when they are fine)."""
    try:
        driver_for(board, site_root)
    except PowerConfigError as err:
        return err.problems
    return []
