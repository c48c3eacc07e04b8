"""Driver ``salt``: the board reboots itself with ``system.reboot`` on its own minion.

The site server cannot target another minion, so the switch orchestration runs
``system.reboot`` on the board (step 1). Here: no hard power, and ``reboot`` says who does it.
"""

from typing import Literal

from pydantic import Field

from jetson_farm.power.base import ORCHESTRATION, PowerDriver
from jetson_farm.power.spec import PowerSettings


class Settings(PowerSettings):
    driver: Literal["salt"] = Field(description="selects this driver")


class Driver(PowerDriver):
    name = "salt"
    actions = frozenset()
    reboot_kind = ORCHESTRATION

    def reboot(self):
        raise self.unsupported(
            "reboot", f"it is done by the orchestration, with system.reboot on the board's minion "
                      f"{self.device.minion}, not by the site server")
