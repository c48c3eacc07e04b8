"""Driver ``lab``: the lab's virtual boards, through the lab supervisor's unix socket.

Settings: ``socket`` (the supervisor's socket path, required), ``timeout`` (10 s). A lab board
has no soft path from the site (its minion's ``system.reboot`` is the ``salt`` way), so
``reboot`` cuts its power, like a relay.
"""

from dataclasses import dataclass

from jetson_farm.errors import JetsonError
from jetson_farm.power.base import HARD_OFF, OFF, ON, UNKNOWN, PowerDriver
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import SpecReader

KEYS = ("socket", "timeout")


@dataclass(frozen=True)
class Device:
    board: str
    socket: str
    timeout: float

    @classmethod
    def from_pillar(cls, board, spec, site_root):
        reader = SpecReader(board.name, "lab", spec, KEYS)
        device = cls(board=board.name, socket=reader.path("socket", required=True),
                     timeout=reader.seconds("timeout", 10))
        reader.done()
        return device


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
