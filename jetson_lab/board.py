"""One lab board: its power, its boot, its processes, its faults.

Powered on, the board's links come up (it answers ping) and it boots: it reads its identity
over NFS (jetson_lab.boot), then runs an NFS session holder and a real salt-minion inside its
namespace. A boot that fails (unexported, empty, no identity, fault ``no_boot``) is retried
every ``boot_retry`` seconds while the board stays on, like a board that panics and reboots
until its nfsroot is back. Powered off, its processes are killed and its links go down.
"""

import logging
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

from jetson_lab import boot, network
from jetson_lab.errors import BootFailed

log = logging.getLogger(__name__)

FAULTS = ("ignore_reboot", "stuck_on", "no_boot")
KILL_WAIT = 5
# A soft reboot lets the board's minion return the job before the board goes down.
REBOOT_GRACE = 1.0
SOFT_LINK_DELAY = 0.3  # seconds between a soft shutdown's killed processes and its links going down
READY_LINE = b"Minion is ready to receive requests!"


class LabBoard:
    """A board of the lab; every public method is thread-safe."""

    def __init__(self, name, index, nfsroot, net, nfs_port, run_dir, boot_retry=2.0, reboot_down=5.0,
                 server=None):
        self.name, self.index, self.nfsroot = name, index, nfsroot
        self.net, self.nfs_port = net, nfs_port
        self.server = server or net.bridge_addr  # its site's NFS address
        self.run_dir = pathlib.Path(run_dir)
        self.control_socket = self.run_dir / "control.sock"
        self.boot_retry, self.reboot_down = boot_retry, reboot_down
        self.faults = set()
        self._lock = threading.RLock()
        self._power = False
        self._generation = 0  # bumped at each power change; stale boot threads see it and stop
        self._minion = None
        self._holder = None
        self._minion_id = None
        self._boot_error = None
        self._boots = 0
        self._since = time.time()
        self._log_offset = 0
        self._ready = False

    # -- power -----------------------------------------------------------------------------

    def power_on(self):
        with self._lock:
            if not self._power:
                self._power = True
                self._generation += 1
                self._since = time.time()
                self._boot_error = None
                self._set_link(True)
                threading.Thread(target=self._boot_loop, args=(self._generation,), daemon=True,
                                 name=f"boot-{self.name}").start()
                log.info("%s powered on", self.name)
            return self.status()

    def power_off(self, hard=True):
        """Cut the power; a ``stuck_on`` board ignores it. The status says what happened."""
        with self._lock:
            if "stuck_on" in self.faults:
                log.info("%s ignores power off (fault stuck_on)", self.name)
                return dict(self.status(), ignored="stuck_on")
            self._cut()
            return self.status()

    def cycle(self):
        with self._lock:
            if "stuck_on" in self.faults:
                log.info("%s ignores power cycle (fault stuck_on)", self.name)
                return dict(self.status(), ignored="stuck_on")
            self._cut()
            return self.power_on()

    def soft_reboot(self):
        """What ``system.reboot`` on the board does: down for a while, then boot again."""
        with self._lock:
            for fault in ("ignore_reboot", "stuck_on"):
                if fault in self.faults:
                    log.info("%s ignores reboot (fault %s)", self.name, fault)
                    return dict(self.status(), ignored=fault)
            generation = self._generation
        threading.Thread(target=self._reboot_later, args=(generation, True), daemon=True).start()
        return dict(self.status(), rebooting=True)

    def soft_poweroff(self):
        """What ``system.poweroff`` on the board does: down, and stays down."""
        with self._lock:
            for fault in ("ignore_reboot", "stuck_on"):
                if fault in self.faults:
                    return dict(self.status(), ignored=fault)
            generation = self._generation
        threading.Thread(target=self._reboot_later, args=(generation, False), daemon=True).start()
        return dict(self.status(), powering_off=True)

    def _reboot_later(self, generation, come_back):
        time.sleep(REBOOT_GRACE)
        with self._lock:
            if generation != self._generation or not self._power:
                return
            self._cut(soft=True)
        if not come_back:
            return
        time.sleep(self.reboot_down)
        with self._lock:
            # Someone powered it on or off meanwhile: their word wins.
            if self._generation == generation + 1 and not self._power:
                self.power_on()

    def _cut(self, soft=False):
        """Power off: the processes die, then the links go down. After a hard cut the master's
        side of the minion's connection lingers, as after a real one; a soft one (the board's
        own shutdown) lets the closing connections reach their peers first."""
        if self._power:
            log.info("%s powered off", self.name)
        self._power = False
        self._generation += 1
        self._since = time.time()
        self._kill(self._minion)
        self._kill(self._holder)
        self._minion = self._holder = None
        if soft:
            time.sleep(SOFT_LINK_DELAY)
        self._set_link(False)

    def _set_link(self, up):
        """The board's network link follows its power (its veth pair on the lab's bridge)."""
        network.set_board_link(self.net, self.name, self.index, up=up)

    @staticmethod
    def _kill(proc):
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            log.warning("process %s survived SIGKILL for %ss", proc.pid, KILL_WAIT)

    # -- faults ----------------------------------------------------------------------------

    def set_fault(self, name):
        with self._lock:
            if name == "clear":
                self.faults.clear()
            else:
                self.faults.add(name)
            return self.status()

    # -- boot ------------------------------------------------------------------------------

    def _boot_loop(self, generation):
        while True:
            with self._lock:
                if generation != self._generation:
                    return
            try:
                self._boot_once(generation)
                return
            except BootFailed as err:
                with self._lock:
                    if generation != self._generation:
                        return
                    self._boot_error = str(err)
                log.info("%s boot failed: %s", self.name, err)
            time.sleep(self.boot_retry)

    def _boot_once(self, generation):
        if "no_boot" in self.faults:
            raise BootFailed(f"board {self.name} does not boot (fault no_boot)")
        ns = self.net.netns(self.name)
        files = boot.read_boot_files(ns, self.server, self.nfs_port, self.nfsroot)
        with self._lock:
            if generation != self._generation:
                return
            self._boots += 1
            minion_id, conf_dir = boot.prepare_runtime(self.run_dir, files, self.control_socket)
            log_dir = self.run_dir / "log"
            self._holder = _spawn(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "jetson_lab.nfs_session",
                 self.server, str(self.nfs_port)], log_dir / "nfs-session.log")
            bindir = pathlib.Path(sys.executable).parent
            minion_log = log_dir / "minion"
            self._log_offset = minion_log.stat().st_size if minion_log.exists() else 0
            self._minion = _spawn(["ip", "netns", "exec", ns, str(bindir / "salt-minion"), "-c", conf_dir],
                                  log_dir / "minion.out")
            self._minion_id = minion_id
            self._ready = False
            self._boot_error = None
            log.info("%s booted as minion %s", self.name, minion_id)

    # -- status ----------------------------------------------------------------------------

    def _minion_ready(self):
        """Has this boot's minion logged that it takes requests? (read from its own log)"""
        if not self._ready:
            try:
                with open(self.run_dir / "log" / "minion", "rb") as handle:
                    handle.seek(self._log_offset)
                    self._ready = READY_LINE in handle.read(1 << 20)
            except OSError:
                return False
        return self._ready

    def status(self):
        with self._lock:
            if not self._power:
                minion = "off"
            elif self._minion is None:
                minion = "boot_failed" if self._boot_error else "booting"
            elif self._minion.poll() is None:
                minion = "ready" if self._minion_ready() else "running"
            else:
                minion = f"exited({self._minion.returncode})"
            return {
                "board": self.name,
                "power": "on" if self._power else "off",
                "minion": minion,
                "minion_id": self._minion_id if self._minion is not None else None,
                "ip": self.net.board_addr(self.index),
                "netns": self.net.netns(self.name),
                "nfsroot": self.nfsroot,
                "boot_error": self._boot_error,
                "boots": self._boots,
                "since": self._since,
                "faults": sorted(self.faults),
            }


def _spawn(args, log_path):
    """Start a board process in its own process group, so power-off kills all it forked."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd="/")
