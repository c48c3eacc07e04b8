"""Driver ``ssh``: ``ssh root@<board> reboot`` from the site server, with a key kept there.

Settings: ``Settings`` below; the key and known_hosts live under the site root by default.
"""

import os
from typing import Literal

from pydantic import Field

from jetson_farm.power.base import SOFT_REBOOT, UNKNOWN, PowerDriver, last_line, run_command
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import OptionalHost, Path, Port, PowerSettings, Seconds, UserName, site_file
from jetson_farm.schema import choice

# What reboot runs on the board: a fixed word, never built from input.
REBOOT_COMMANDS = ("reboot", "systemctl reboot", "/sbin/reboot")
# ssh's own failures (cannot connect, auth refused) exit 255; so does a session the board closes
# while rebooting, which ssh reports as "closed by remote host" once it was connected.
SSH_FAILED = 255


class Settings(PowerSettings):
    driver: Literal["ssh"] = Field(description="selects this driver")
    host: OptionalHost = Field("", description="the board's address for ssh (default: its `ip`)")
    user: UserName = Field("root", description="who runs the reboot on the board")
    port: Port = Field(22, description="the board's ssh port")
    key: Path = Field("", description="the site server's private key (default: "
                                      "`<site root>/power/id_ed25519`)")
    known_hosts: Path = Field("", description="where the boards' host keys are learnt on first use, a "
                                              "changed one refused (default: "
                                              "`<site root>/power/known_hosts`)")
    command: choice(*REBOOT_COMMANDS) = Field("reboot", description="what reboots the board")
    timeout: Seconds = Field(30, description="of one ssh run")

    def defaults_from(self, board, site_root):
        return {"host": board.ip, "key": site_file(site_root, "id_ed25519"),
                "known_hosts": site_file(site_root, "known_hosts")}


class Driver(PowerDriver):
    name = "ssh"
    actions = frozenset({"reboot"})
    reboot_kind = SOFT_REBOOT

    def argv(self):
        device = self.device
        return [
            "ssh", "-F", "none", "-i", device.key, "-p", str(device.port),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", f"ConnectTimeout={max(1, int(device.timeout // 2))}",
            "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={device.known_hosts}",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
            "-l", device.user, "--", device.host, *device.command.split(),
        ]

    def reboot(self):
        device = self.device
        if not os.path.isfile(device.key):
            raise PowerError(f"{self.describe('reboot')} failed: no ssh key at {device.key} "
                             "on the site server")
        os.makedirs(os.path.dirname(device.known_hosts), mode=0o700, exist_ok=True)
        done = run_command(self, "reboot", self.argv(), timeout=device.timeout)
        if done.returncode == 0:
            return UNKNOWN
        if done.returncode == SSH_FAILED and "closed by remote host" in done.stderr:
            return UNKNOWN  # the board went down under our session: the reboot is under way
        raise PowerError(f"{self.describe('reboot')} failed: ssh {device.user}@{device.host} port "
                         f"{device.port} exited {done.returncode}: {last_line(done.stderr)}")
