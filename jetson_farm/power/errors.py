"""The power drivers' errors: all JetsonError, so the Salt door turns them into Salt errors.

Each message names the board, the driver and what failed, so it reads well on its own.
"""

from jetson_farm.errors import JetsonError, Timeout


class PowerError(JetsonError):
    """A power action failed: the device refused, answered badly or not at all."""


class PowerConfigError(PowerError, ValueError):
    """A board's ``power`` mapping is wrong for its driver; ``problems`` lists every mistake."""

    def __init__(self, board, driver, problems):
        self.problems = list(problems)
        super().__init__(f"board {board}, power driver {driver}: invalid power settings: "
                         + "; ".join(self.problems))


class Unsupported(PowerError):
    """The board's driver cannot do this action (e.g. ``off`` with Wake-on-LAN)."""


class StillUp(PowerError, Timeout):
    """``ensure_down`` gave up: the board is still up and nothing more can be done from the site."""
