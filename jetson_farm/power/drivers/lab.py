"""Driver ``lab``: the lab's virtual boards, through the lab supervisor's unix socket.

Settings: ``Settings`` below. A lab board
has no soft path from the site (its minion's ``system.reboot`` is the ``salt`` way), so
``reboot`` cuts its power, like a relay.
"""

from typing import Literal

from pydantic import Field

from jetson_farm.errors import JetsonError
from jetson_farm.power.base import HARD_OFF, OFF, ON, UNKNOWN, PowerDriver
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import PowerSettings, Seconds
from jetson_farm.schema import abs_path, field


class Settings(PowerSettings):
    driver: Literal["lab"] = Field(description="selects this driver")
    socket: field(abs_path, "absolute path") = Field(description="the lab supervisor's unix socket")
    timeout: Seconds = Field(10, description="of one request to the supervisor")


class Driver(PowerDriver):
    name = "lab"
    actions = frozenset({"on", "off", "cycle", "reboot", "status"})
    reboot_kind = HARD_OFF

    def _ask(self, action):
        try:
            from jetson_lab import client  # the lab is optional on a real site server
        except ImportError as err:
            raise PowerError(f"{self.describe(action)} failed: the jetson_lab package is not "
                             "installed") from err
        try:
            answer = client.power(self.device.socket, self.board, action, timeout=self.device.timeout)
        except (JetsonError, OSError) as err:  # the lab's own errors and socket errors, named with the board
            raise PowerError(f"{self.describe(action)} failed: {err}") from err
        power = answer.get("power") if isinstance(answer, dict) else None
        return {"on": ON, "off": OFF}.get(power, UNKNOWN)

    def on(self):
        return self._ask("on")

    def off(self):
        return self._ask("off")

    def cycle(self):
        return self._ask("cycle")

    def reboot(self):
        return self._ask("off")

    def status(self):
        return self._ask("status")
