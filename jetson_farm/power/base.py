"""What can be done to a board's power: the protocol every driver implements.

A driver module (``jetson_farm/power/drivers/<name>.py``) has one shape:

* ``Settings``: the pydantic model of the driver's pillar keys (``jetson_farm.power.spec``);
  the registry validates a board's merged ``power`` mapping into it, then
  ``settings.resolve(board, site_root)`` fills the defaults taken from the board or the site:
  that is the ``device`` the driver acts on;
* ``Driver(device)``: a ``PowerDriver`` that implements some of ``on``, ``off``, ``cycle``,
  ``reboot`` and ``status``, lists them in ``actions`` and says in ``reboot_kind`` what its
  ``reboot`` does.

Each action returns the board's power state afterwards: ``"on"``, ``"off"`` or ``"unknown"``.
"""

import logging
import subprocess

from jetson_farm.power.errors import PowerError, Unsupported

log = logging.getLogger(__name__)

ACTIONS = ("on", "off", "cycle", "reboot", "status")
ON, OFF, UNKNOWN = "on", "off", "unknown"

# What ``reboot`` does, per driver: the switch's step 1 only needs the board to stop using its
# nfsroot, so a driver without a soft path stops it with what it has.
SOFT_REBOOT = "soft-reboot"  # the board's OS reboots (ssh reboot)
SOFT_OFF = "soft-off"  # an orderly shutdown; the board stays off (IPMI soft)
HARD_OFF = "off"  # no soft path: the power is cut; the board stays off
ORCHESTRATION = "orchestration"  # system.reboot on the board's minion, run by the orchestration


class PowerDriver:
    """The protocol. Subclasses set ``name``, ``actions`` and ``reboot_kind`` and implement them."""

    name = ""
    actions = frozenset()
    reboot_kind = None

    def __init__(self, device):
        self.device = device

    @property
    def board(self):
        return self.device.board

    def describe(self, action):
        """``board jtk1, power driver http: <action>``, the start of every message."""
        return f"board {self.board}, power driver {self.name}: {action}"

    def unsupported(self, action, why):
        return Unsupported(f"{self.describe(action)} is not possible: {why}")

    def on(self):
        raise self.unsupported("on", "this driver cannot power the board on")

    def off(self):
        raise self.unsupported("off", "this driver has no hard power off")

    def cycle(self):
        raise self.unsupported("cycle", "this driver has no hard power cycle")

    def reboot(self):
        raise self.unsupported("reboot", "this driver has no reboot")

    def status(self):
        return UNKNOWN

    @property
    def hard_power(self):
        """True if the driver can cut the board's power (what ``ensure_down`` escalates with)."""
        return "off" in self.actions or "cycle" in self.actions


def run_command(driver, action, argv, timeout, env=None):
    """Run ``argv`` (a list) for ``driver``'s ``action``; the CompletedProcess, PowerError if it cannot run.

    A non-zero exit is left to the caller, which knows what the command's codes mean.
    """
    log.debug("%s: running %s", driver.describe(action), argv)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError as err:
        raise PowerError(f"{driver.describe(action)} failed: {argv[0]} is not installed ({err})") from err
    except subprocess.TimeoutExpired as err:
        raise PowerError(f"{driver.describe(action)} failed: {argv[0]} did not finish within "
                         f"{timeout}s") from err


def last_line(text):
    """The last non-empty line of a command's output, for an error message."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
