"""Driver ``ipmi``: the board's BMC through ``ipmitool ... chassis power on|off|cycle|status|soft``.

Settings: ``Settings`` below. The password comes from ``password_file`` (passed as ``-f``) or
``password_env`` (passed to ipmitool as ``IPMI_PASSWORD`` with ``-E``): it never appears on a
command line nor in the pillar. ``cipher_suite`` defaults to 3: ipmitool 1.8.19 otherwise asks
the BMC for its suites, which some BMCs and OpenIPMI's simulator do not answer.

``reboot`` is ``chassis power soft``: an orderly ACPI shutdown; the board stays off until ``on``.
"""

import os
from typing import Literal

from pydantic import Field

from jetson_farm.power.base import OFF, ON, SOFT_OFF, UNKNOWN, PowerDriver, last_line, run_command
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import USER_RE, EnvName, Host, Path, Port, PowerSettings, Seconds, pattern
from jetson_farm.schema import choice, field

CHASSIS = {"on": "on", "off": "off", "cycle": "cycle", "status": "status", "reboot": "soft"}


class Settings(PowerSettings):
    driver: Literal["ipmi"] = Field(description="selects this driver")
    host: Host = Field(description="the BMC")
    user: field(pattern(USER_RE, "a BMC user name", 64, allow_empty=False), "user name") = Field(
        description="the BMC user")
    password_file: Path = Field("", description="a file on the site server holding the BMC password "
                                                "(`ipmitool -f`)")
    password_env: EnvName = Field("", description="or an environment variable of the site minion holding it "
                                                  "(`ipmitool -E`)")
    interface: choice("lanplus", "lan") = Field("lanplus", description="ipmitool's interface")
    port: Port = Field(623, description="the BMC's RMCP port")
    cipher_suite: choice(*range(18), doc="0-17") = Field(3, description="ipmitool `-C` (lanplus)")
    timeout: Seconds = Field(20, description="of one ipmitool run")

    @classmethod
    def cross_checks(cls, spec):
        if bool(spec.get("password_file")) == bool(spec.get("password_env")):
            return [("", "driver ipmi needs exactly one of password_file, password_env "
                         "(never the password itself)")]
        return []


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
