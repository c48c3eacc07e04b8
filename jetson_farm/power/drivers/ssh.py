"""Driver ``ssh``: ``ssh root@<board> reboot`` from the site server, with a key kept there.

Settings: ``key`` (default ``<site root>/power/id_ed25519``), ``user`` (root), ``host`` (the
board's ip), ``port`` (22), ``known_hosts`` (default ``<site root>/power/known_hosts``; a new
board's host key is learnt on first use, a changed one is refused), ``timeout`` (30 s).
"""

import os
from dataclasses import dataclass

from jetson_farm.power.base import SOFT_REBOOT, UNKNOWN, PowerDriver, last_line, run_command
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import USER_RE, SpecReader

KEYS = ("key", "user", "host", "port", "known_hosts", "timeout", "command")
# What reboot runs on the board: a fixed word, never built from input.
REBOOT_COMMANDS = ("reboot", "systemctl reboot", "/sbin/reboot")
# ssh's own failures (cannot connect, auth refused) exit 255; so does a session the board closes
# while rebooting, which ssh reports as "closed by remote host" once it was connected.
SSH_FAILED = 255


@dataclass(frozen=True)
class Device:
    board: str
    host: str
    user: str
    port: int
    key: str
    known_hosts: str
    command: str
    timeout: float

    @classmethod
    def from_pillar(cls, board, spec, site_root):
        reader = SpecReader(board.name, "ssh", spec, KEYS)
        device = cls(
            board=board.name,
            host=reader.host("host", board.ip),
            user=reader.string("user", "root", pattern=USER_RE, what="a user name"),
            port=reader.port("port", 22),
            key=reader.path("key", os.path.join(site_root, "power", "id_ed25519")),
            known_hosts=reader.path("known_hosts", os.path.join(site_root, "power", "known_hosts")),
            command=reader.choice("command", REBOOT_COMMANDS, "reboot"),
            timeout=reader.seconds("timeout", 30),
        )
        reader.done()
        return device


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
