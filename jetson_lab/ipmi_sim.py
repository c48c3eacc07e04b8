"""A virtual BMC: OpenIPMI's ``ipmi_sim`` (Debian package ``openipmi``) with a chassis we control.

``IpmiSim(state_dir, host="127.0.0.1", user="admin", password=...)``: ``start()`` writes a
``lan.conf`` (one LAN channel on ``host``:``port``, a free UDP port, one admin user), an
emulator command file (a BMC at 0x20) and a password file (``password_file``, what the
site keeps for ``ipmitool -f``), then runs ``ipmi_sim -n``. Real ``ipmitool -I lanplus -C 3``
(or ``-I lan``) talks to it. ``ipmi_sim`` asks this module (as its ``chassis_control``
program) to get and set the chassis power; the state is kept in ``<state_dir>/power`` and
every request is logged: ``power()`` is "on"/"off", ``calls()`` the requests (``"set power 0"``,
``"set shutdown 1"``...). ``stop()`` ends the simulator. Also a context manager.

``ipmi_sim`` has no answer to "Get Channel Cipher Suites", so ipmitool 1.8.19 must be given the
cipher suite (``-C 3``; the driver's default).
"""

import logging
import os
import socket
import subprocess
import sys
import time

from jetson_farm.errors import JetsonError
from jetson_lab.child import ChildProcess, read_lines

log = logging.getLogger(__name__)

IPMI_SIM = "ipmi_sim"
START_TIMEOUT = 10


class IpmiSimError(JetsonError):
    """The simulator could not be set up or started."""


def _free_udp_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _udp_bound(port):
    with open("/proc/net/udp", encoding="ascii") as handle:
        return any(line.split()[1].endswith(f":{port:04X}") for line in handle.readlines()[1:])


class IpmiSim(ChildProcess):
    def __init__(self, state_dir, host="127.0.0.1", user="admin", password="lab-bmc-secret",  # noqa: S107
                 initial="off"):
        self.dir = os.path.abspath(state_dir)
        self.host, self.user, self.password = host, user, password
        self.port = None
        self.password_file = os.path.join(self.dir, "bmc-password")
        self._initial = initial
        self._process = None

    def _write_config(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.dir, "power"), "w", encoding="ascii") as handle:
            handle.write("1" if self._initial == "on" else "0")
        with open(self.password_file, "w", encoding="ascii") as handle:
            handle.write(self.password + "\n")
        os.chmod(self.password_file, 0o600)
        chassis = f"{sys.executable} -m jetson_lab.ipmi_sim {self.dir}"
        lan_conf = os.path.join(self.dir, "lan.conf")
        with open(lan_conf, "w", encoding="ascii") as handle:
            handle.write("\n".join([
                'name "jetsonlab"',
                "set_working_mc 0x20",
                "  startlan 1",
                f"    addr {self.host} {self.port}",
                "    priv_limit admin",
                "    allowed_auths_callback none md2 md5 straight",
                "    allowed_auths_user none md2 md5 straight",
                "    allowed_auths_operator none md2 md5 straight",
                "    allowed_auths_admin none md2 md5 straight",
                "    guid a123456789abcdefa123456789abcdef",
                "  endlan",
                f'  chassis_control "{chassis}"',
                '  user 1 false "" "unused" user 10 none md2 md5 straight',
                f'  user 2 true "{self.user}" "{self.password}" admin 10 none md2 md5 straight',
                "",
            ]))
        emu = os.path.join(self.dir, "bmc.emu")
        with open(emu, "w", encoding="ascii") as handle:
            handle.write("mc_setbmc 0x20\n"
                         "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
                         "mc_enable 0x20\n")
        return lan_conf, emu

    def start(self):
        self.port = _free_udp_port(self.host)
        lan_conf, emu = self._write_config()
        log_path = os.path.join(self.dir, "ipmi_sim.log")
        with open(log_path, "ab") as log_file:
            try:
                self._process = subprocess.Popen(
                    [IPMI_SIM, "-n", "-c", lan_conf, "-f", emu, "-s", os.path.join(self.dir, "persist")],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
            except FileNotFoundError as err:
                raise IpmiSimError("ipmi_sim is not installed: install the Debian packages openipmi "
                                   "and ipmitool") from err
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise IpmiSimError(f"ipmi_sim exited at start; see {log_path}")
            if _udp_bound(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise IpmiSimError(f"ipmi_sim did not bind {self.host}:{self.port} within {START_TIMEOUT}s")

    def power(self):
        with open(os.path.join(self.dir, "power"), encoding="ascii") as handle:
            return "on" if handle.read().strip() == "1" else "off"

    def calls(self):
        return read_lines(os.path.join(self.dir, "chassis.log"), encoding="ascii")



def chassis_control(state_dir, op, args):
    """ipmi_sim's chassis_control protocol: ``get power`` prints ``power:1``; ``set power 0`` sets it.

    ``set shutdown 1`` (ipmitool's ``chassis power soft``) is an orderly shutdown: power goes off.
    """
    power_file = os.path.join(state_dir, "power")
    with open(os.path.join(state_dir, "chassis.log"), "a", encoding="ascii") as handle:
        handle.write(" ".join([op, *args]) + "\n")
    if op == "get":
        with open(power_file, encoding="ascii") as handle:
            state = handle.read().strip() or "0"
        for parm in args:
            print(f"{parm}:{state if parm == 'power' else 'default'}")
        return 0
    if op == "set":
        for parm, value in zip(args[::2], args[1::2], strict=False):
            if parm == "power" or (parm == "shutdown" and value == "1"):
                with open(power_file, "w", encoding="ascii") as handle:
                    handle.write("0" if parm == "shutdown" else value)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(chassis_control(sys.argv[1], sys.argv[2], sys.argv[3:]))
