"""Driver ``salt``: the board reboots itself with ``system.reboot`` on its own minion.

The site server cannot target another minion, so the switch orchestration runs
``system.reboot`` on the board (step 1). Here: no hard power, and ``reboot`` says who does it.
"""

from dataclasses import dataclass

from jetson_farm.power.base import ORCHESTRATION, PowerDriver
from jetson_farm.power.spec import SpecReader

KEYS = ()


@dataclass(frozen=True)
class Device:
    board: str
    minion: str

    @classmethod
    def from_pillar(cls, board, spec, site_root):
        reader = SpecReader(board.name, "salt", spec, KEYS)
        reader.done()
        return cls(board=board.name, minion=board.minion)


class Driver(PowerDriver):
    name = "salt"
    actions = frozenset()
    reboot_kind = ORCHESTRATION

    def reboot(self):
        raise self.unsupported(
            "reboot", f"it is done by the orchestration, with system.reboot on the board's minion "
                      f"{self.device.minion}, not by the site server")
