"""Board power, in labgrid's layers.

* what a board's power device *is*: a frozen settings model per driver, validated from the
  board's ``power`` pillar mapping (``drivers/<name>.py: Settings``, joined in one union on
  ``driver`` by ``registry.POWER_SETTINGS``);
* what can be *done* to it: the protocol in ``base.PowerDriver`` (on, off, cycle, reboot, status);
* *how*, for one kind of device: one module per driver in ``drivers/`` (salt, ssh, wol, http,
  ipmi, lab), registered in ``registry.DRIVERS``.

Plain Python: the Salt module ``jetson_power`` is only the door.
"""

from jetson_farm.power.actions import act, capabilities
from jetson_farm.power.errors import PowerConfigError, PowerError, StillUp, Unsupported
from jetson_farm.power.ladder import ensure_down
from jetson_farm.power.registry import DRIVERS, driver_for, power_problems

__all__ = ["DRIVERS", "PowerConfigError", "PowerError", "StillUp", "Unsupported", "act", "capabilities",
           "driver_for", "ensure_down", "power_problems"]
