"""Driver ``ipmi``: the board's BMC through ``ipmitool ... chassis power on|off|cycle|status|soft``.

Settings: ``host`` (the BMC, required), ``user`` (required), ``password_file`` (a file on the
site server, passed as ``-f``) or ``password_env`` (the name of an environment variable of the
site minion, passed to ipmitool as ``IPMI_PASSWORD`` with ``-E``): the password never appears on
a command line nor in the pillar. ``interface`` (lanplus or lan), ``port`` (623),
``cipher_suite`` (3: ipmitool 1.8.19 otherwise asks the BMC for its suites, which some BMCs
and OpenIPMI's simulator do not answer), ``timeout`` (20 s).

``reboot`` is ``chassis power soft``: an orderly ACPI shutdown; the board stays off until ``on``.
"""

import os
from dataclasses import dataclass

from jetson_farm.power.base import OFF, ON, SOFT_OFF, UNKNOWN, PowerDriver, last_line, run_command
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import ENV_RE, USER_RE, SpecReader

KEYS = ("host", "user", "password_file", "password_env", "interface", "port", "cipher_suite", "timeout")
CHASSIS = {"on": "on", "off": "off", "cycle": "cycle", "status": "status", "reboot": "soft"}


@dataclass(frozen=True)
class Device:
    board: str
    host: str
    user: str
    password_file: str
    password_env: str
    interface: str
    port: int
    cipher_suite: int
    timeout: float

    @classmethod
    def from_pillar(cls, board, spec, site_root):
        reader = SpecReader(board.name, "ipmi", spec, KEYS)
        device = cls(
            board=board.name,
            host=reader.host("host", required=True),
            user=reader.string("user", required=True, pattern=USER_RE, what="a BMC user name"),
            password_file=reader.path("password_file"),
            password_env=reader.string("password_env", pattern=ENV_RE, what="an environment variable name"),
            interface=reader.choice("interface", ("lanplus", "lan"), "lanplus"),
            port=reader.port("port", 623),
            cipher_suite=reader.choice("cipher_suite", tuple(range(18)), 3),
            timeout=reader.seconds("timeout", 20),
        )
        if bool(device.password_file) == bool(device.password_env):
            reader.problems.append(f"boards.{board.name}.power: driver ipmi needs exactly one of "
                                   "password_file, password_env (never the password itself)")
        reader.done()
        return device


class Driver(PowerDriver):
    name = "ipmi"
    actions = frozenset(CHASSIS)
    reboot_kind = SOFT_OFF

    def argv(self, action):
        device = self.device
        # ipmitool retries on its own: -N seconds per try, -R tries; the whole run is bounded too.
        per_try = max(1, int(device.timeout // 4))
        argv = ["ipmitool", "-I", device.interface, "-H", device.host, "-p", str(device.port),
                "-U", device.user, "-N", str(per_try), "-R", "2"]
        if device.interface == "lanplus":
            argv += ["-C", str(device.cipher_suite)]
        argv += ["-f", device.password_file] if device.password_file else ["-E"]
        return [*argv, "chassis", "power", CHASSIS[action]]

    def _environment(self, action):
        if not self.device.password_env:
            return None
        password = os.environ.get(self.device.password_env)
        if password is None:
            raise PowerError(f"{self.describe(action)} failed: the environment variable "
                             f"{self.device.password_env} (the BMC password) is not set on the site minion")
        return dict(os.environ, IPMI_PASSWORD=password)

    def _chassis(self, action):
        if self.device.password_file and not os.path.isfile(self.device.password_file):
            raise PowerError(f"{self.describe(action)} failed: no BMC password file at "
                             f"{self.device.password_file}")
        done = run_command(self, action, self.argv(action), timeout=self.device.timeout,
                           env=self._environment(action))
        if done.returncode != 0:
            raise PowerError(f"{self.describe(action)} failed: ipmitool chassis power {CHASSIS[action]} on "
                             f"{self.device.host}:{self.device.port} exited {done.returncode}: "
                             f"{last_line(done.stderr or done.stdout)}")
        return done.stdout

    def on(self):
        self._chassis("on")
        return ON

    def off(self):
        self._chassis("off")
        return OFF

    def cycle(self):
        self._chassis("cycle")
        return ON

    def reboot(self):
        self._chassis("reboot")
        return UNKNOWN  # the OS shuts down in its own time

    def status(self):
        words = self._chassis("status").strip().lower().split()
        return {"on": ON, "off": OFF}.get(words[-1] if words else "", UNKNOWN)
