"""A board stand-in for the ``ssh`` power driver: a private sshd that records what it is asked to run.

``SshBoard(state_dir, host="127.0.0.1")``: ``start()`` generates its own host key and a client
key pair (``client_key``: the private key the site would keep), writes an ``authorized_keys``
whose one key is forced to run this module's recorder, and starts ``/usr/sbin/sshd -D`` on a
free port (``port``) of ``host``. ``commands()`` lists the commands received (e.g.
``["reboot"]``); nothing is ever executed. ``stop()`` ends the sshd. Also a context manager.
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

SSHD = "/usr/sbin/sshd"
COMMAND_TIMEOUT = 30
START_TIMEOUT = 10


class SshBoardError(JetsonError):
    """The stand-in's sshd could not be set up or started."""


def _run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    if done.returncode != 0:
        raise SshBoardError(f"{argv[0]} failed: {done.stderr.strip()}")


def _free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class SshBoard(ChildProcess):
    def __init__(self, state_dir, host="127.0.0.1"):
        self.dir = os.path.abspath(state_dir)
        self.host = host
        self.port = None
        self.client_key = os.path.join(self.dir, "client_ed25519")
        self.host_key = os.path.join(self.dir, "host_ed25519")
        self.log_file = os.path.join(self.dir, "commands.log")
        self._process = None

    def _write_config(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        for key in (self.host_key, self.client_key):
            if not os.path.exists(key):
                _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jetson-lab", "-f", key])
        with open(f"{self.client_key}.pub", encoding="ascii") as handle:
            public = handle.read().strip()
        recorder = f"{sys.executable} -m jetson_lab.ssh_board {self.log_file}"
        authorized = os.path.join(self.dir, "authorized_keys")
        with open(authorized, "w", encoding="ascii") as handle:
            handle.write(f'command="{recorder}",restrict {public}\n')
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w", encoding="ascii") as handle:
            handle.write("\n".join([
                f"ListenAddress {self.host}:{self.port}", f"HostKey {self.host_key}",
                f"PidFile {os.path.join(self.dir, 'sshd.pid')}", f"AuthorizedKeysFile {authorized}",
                "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel VERBOSE", "",
            ]))
        return config

    def start(self):
        self.port = _free_port(self.host)
        config = self._write_config()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
        log_path = os.path.join(self.dir, "sshd.log")
        if not os.path.exists(SSHD):
            raise SshBoardError(f"{SSHD} is not installed: install the Debian package openssh-server")
        self._process = subprocess.Popen([SSHD, "-D", "-f", config, "-E", log_path],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SshBoardError(f"sshd exited at start; see {log_path}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SshBoardError(f"sshd did not listen on {self.host}:{self.port} within {START_TIMEOUT}s")

    def commands(self):
        return read_lines(self.log_file)



def record(log_file):
    """The forced command: append what the client asked to run, run nothing."""
    with open(log_file, "a", encoding="utf-8") as handle:
        handle.write(os.environ.get("SSH_ORIGINAL_COMMAND", "") + "\n")


if __name__ == "__main__":
    record(sys.argv[1])
