"""The SSH jump host as a test drives it: per-run accounts (named with a random tag), their client
keys, a scratch folder for every path of pillar ``jump_host``, and a private sshd on a free port
that includes the drop-in ``jetson.users`` wrote. The machine's own sshd and sudo rules are never
touched; ``cleanup`` removes the accounts, group, sudo rule and folder."""

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

from tests.conftest import SCRATCH


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, **kwargs)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_sshd(config, log, ready):
    """``sshd -D -f config`` (log in ``log``), yielded once ``ready()`` is true; stopped after."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    daemon = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(config), "-E", str(log)])
    try:
        for _ in range(100):
            if ready():
                break
            if daemon.poll() is not None:
                pytest.fail(f"sshd exited: {log.read_text()}")
            subprocess.run(["sleep", "0.1"], check=False)
        yield daemon
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


class Jump:
    """This test's jump host: names, paths, keys, and the ssh client of each user."""

    def __init__(self, names=None):
        """``names``: the accounts of roles admin, alice, bob, eve (default: new names per run)."""
        tag = uuid.uuid4().hex[:6]
        self.group = f"jf{tag}"
        self.admin, self.alice, self.bob, self.eve = names or (f"{p}{tag}" for p in ("ad", "al", "bo", "ev"))
        self.folder = SCRATCH / f"users-{tag}"
        self.folder.mkdir(parents=True)
        os.chmod(self.folder, 0o755)
        self.keys = self.folder / "client"
        self.keys.mkdir(mode=0o700)
        self.command = self.folder / "jetson-image"
        self.site_config = self.folder / "site.yaml"
        self.command.write_text(f"#!{sys.executable}\nimport sys\n"
                                "from jetson_farm.selfservice.cli import main\n"
                                f"sys.exit(main(default_config={str(self.site_config)!r}))\n")
        os.chmod(self.command, 0o755)
        self.dropin = self.folder / "sshd.d" / "jetson-farm.conf"
        self.sudoers = f"/etc/sudoers.d/jetson-farm-test-{tag}"
        self.board_ip = f"127.77.{random.randint(1, 250)}.1"
        for user in (self.alice, self.bob):
            assert run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{user}@laptop",
                        "-f", str(self.keys / user)]).returncode == 0
        self.port = None

    def jump_host(self):
        """Pillar ``sites:<site>:jump_host``, every path in the scratch folder."""
        return {"enabled": True, "group": self.group, "sshd_config": str(self.dropin), "sshd_service": "",
                "keys_dir": str(self.folder / "keys"), "command": str(self.command),
                "sudoers": self.sudoers, "site_config": str(self.site_config)}

    def configure(self, pillar, site="site01"):
        """``pillar`` with this jump host on ``site`` and its users (admin, alice with a 1 GB
        quota, bob) and the admin's shared default image."""
        pillar["sites"][site]["jump_host"] = self.jump_host()
        pillar["users"] = {
            self.admin: {"email": "admin@example.org", "admin": True},
            self.alice: {"ssh_keys": [self.public(self.alice)], "quota_gb": 1},
            self.bob: {"ssh_keys": [self.public(self.bob)]},
        }
        pillar["defaults"]["image"] = f"{self.admin}/l4t-base"
        pillar["images"] = {f"{self.admin}/l4t-base": {"shared": True}}
        return pillar

    def public(self, user):
        return (self.keys / f"{user}.pub").read_text().strip()

    def ssh(self, user, *words, options=(), stdin=subprocess.DEVNULL):
        return run(["ssh", "-i", str(self.keys / user), "-p", str(self.port), "-o", "BatchMode=yes",
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "LogLevel=ERROR", *options, f"{user}@127.0.0.1", *words], stdin=stdin)

    @contextlib.contextmanager
    def sshd(self):
        """A private sshd whose config includes the drop-in the state wrote, serving once
        alice's ``jetson-image --help`` answers."""
        self.port = free_port()
        config = self.folder / "sshd_config"
        host_key = self.folder / "host"
        assert run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)]).returncode == 0
        config.write_text(f"Include {self.dropin}\nPort {self.port}\nListenAddress 127.0.0.1\n"
                          f"HostKey {host_key}\nPidFile {self.folder / 'sshd.pid'}\n"
                          "UsePAM no\nStrictModes no\n")
        with running_sshd(config, self.folder / "sshd.log",
                          lambda: self.ssh(self.alice, "jetson-image", "--help").returncode == 0) as daemon:
            yield daemon

    def cleanup(self):
        for user in (self.admin, self.alice, self.bob, self.eve):
            # sshd's session processes may outlive the daemon for a moment (userdel: 8, in use)
            for _ in range(100):
                if run(["userdel", user]).returncode in (0, 6):  # 6: no such user
                    break
                subprocess.run(["sleep", "0.1"], check=False)
        run(["groupdel", self.group])
        if os.path.exists(self.sudoers):
            os.unlink(self.sudoers)
        shutil.rmtree(self.folder, ignore_errors=True)


NEEDS_SSH = [
    pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(c) for c in ("ssh", "ssh-keygen", "sudo",
                                                                              "useradd", "visudo")),
                       reason="needs root, OpenSSH's client, sudo and useradd"),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/sshd"), reason="needs OpenSSH's sshd"),
]
