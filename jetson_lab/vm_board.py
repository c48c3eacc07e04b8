"""A VM board: a QEMU machine that boots a Linux kernel with its root file system on NFSv4.

It has its own MAC and address on the lab's bridge (a tap), and boots like a real board: at
power-on its kernel and initramfs come from the image it boots (``boot/`` of its nfsroot, read
without following the image's symlinks, as a real board has them in flash or from PXE), then
the kernel mounts the nfsroot (``boot=nfs4``, see jetson_farm/rootfs/nfsboot/nfs4) and the
image's own salt-minion connects to the master. The lab cannot tell the minion's id or keys:
they are whatever the image holds.

Power: on = a fresh QEMU, off = QMP ``quit`` (a hard off: the guest is not told), cycle = both,
status = QMP ``query-status``. QEMU runs with ``-no-reboot``: when the guest reboots, QEMU
exits and the board starts a fresh one (a real board's reset), unless the boot ended in a
kernel panic (e.g. the nfsroot was not exported: the initramfs gives up after ``rootdelay``
tries), which leaves the board off with ``boot_error`` set: the farm's "failed to boot".

Each boot's serial console is kept in ``run/<board>/console/boot-<n>.log``, every line
prefixed with the seconds since power-on (``console.log`` links the newest), and the status
gives the boot's milestones: ``root_mounted``, ``multi_user``, ``minion_ready`` (seconds).
"""

import logging
import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import time

from jetson_farm.errors import JetsonError
from jetson_lab import qmp
from jetson_lab.errors import LabError

log = logging.getLogger(__name__)

QEMU = "qemu-system-x86_64"
QUIT_WAIT = 10
MILESTONES = (
    ("root_mounted", re.compile(r"jetson-farm: NFSv4 root \S+ mounted")),
    # systemd often stops printing targets once the serial getty owns the console: its login
    # banner (a unit of multi-user.target) marks the moment as well.
    ("multi_user", re.compile(r"Reached target .*Multi-User System|^Debian GNU/Linux \S+ \S+ ttyS0")),
    ("minion_ready", re.compile(r"Minion is ready to receive requests")),
)
PANIC = re.compile(r"Kernel panic|jetson-farm: no NFSv4 root")
# The lab's boot config beyond what a board needs, to shorten a TCG boot (docs/lab.md says why
# each): the board is its export's only client and the farm writes its root only while it is
# unexported, so it need not ask the server whether a file changed at each open (nocto) nor
# every few seconds (actimeo); a lab VM runs no one else's code (mitigations); every kernel
# and systemd status line is a TCG guest writing to an emulated serial port (quiet); e2scrub
# looks for LVM snapshots of ext4, which an NFS root has none of.
NFS_OPTIONS = "nocto,actimeo=600"
BOOT_OPTIONS = "quiet mitigations=off systemd.mask=e2scrub_reap.service"


def choose_accel():
    """``kvm`` only where KVM really runs a stock kernel: not under a nested software KVM
    (``kvm_pvm``, which crashes or crawls), and only with /dev/kvm usable; else ``tcg``."""
    forced = os.environ.get("JETSON_LAB_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    if os.path.exists("/sys/module/kvm_pvm") or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    return "kvm"


def _version_key(version):
    """6.1.0-50 after 6.1.0-9: numbers compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", version)]


def newest_kernel(names):
    """``(vmlinuz, initrd)`` names of the newest kernel in ``names`` that has an initramfs."""
    versions = sorted((n[len("vmlinuz-"):] for n in names if n.startswith("vmlinuz-")
                       and f"initrd.img-{n[len('vmlinuz-'):]}" in names), key=_version_key, reverse=True)
    if not versions:
        return None
    return f"vmlinuz-{versions[0]}", f"initrd.img-{versions[0]}"


def extract_boot_files(nfsroot, dest):
    """Copy the newest kernel and initramfs of the image at ``nfsroot`` to ``dest``; LabError
    if it has none. The image is the user's: its links are never followed (rule 2)."""
    from jetson_farm.safepath import SafeRoot

    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with SafeRoot(nfsroot, label=nfsroot) as root:
            fd = root.open_dir(["boot"])
            if fd is None:
                raise LabError(f"{nfsroot} has no boot/ folder: no kernel to boot")
            try:
                pair = newest_kernel(set(os.listdir(fd)))
            finally:
                os.close(fd)
            if pair is None:
                raise LabError(f"{nfsroot}/boot has no vmlinuz-<version> with its initrd.img-<version>")
            for name, target in zip(pair, ("vmlinuz", "initrd.img"), strict=True):
                if root.copy_out(f"boot/{name}", str(dest / f".{target}.new")) is None:
                    raise LabError(f"{nfsroot}/boot/{name} vanished while it was read")
                os.replace(dest / f".{target}.new", dest / target)
    except (OSError, JetsonError) as err:
        raise LabError(f"no kernel for the board from {nfsroot}: {err}") from None
    return pair


class LabVMBoard:
    """A QEMU board of the lab; every public method is thread-safe."""

    kind = "vm"

    def __init__(self, name, nfsroot, run_dir, *, ip, mac, tap, server, netmask, nfs_port,
                 cpus=2, memory=1024, rootdelay=3, cpu_model="qemu64"):
        self.name, self.nfsroot = name, nfsroot
        self.run_dir = pathlib.Path(run_dir)
        self.ip, self.mac, self.tap, self.server = ip, mac, tap, server
        self.netmask, self.nfs_port = netmask, nfs_port
        self.cpus, self.memory, self.rootdelay = cpus, memory, rootdelay
        self.cpu_model = cpu_model
        self.control_socket = self.run_dir / "control.sock"
        self.qmp_socket = self.run_dir / "qmp.sock"
        self.faults = set()
        self._lock = threading.RLock()
        self._proc = None
        self._generation = 0
        self._boots = 0
        self._since = time.time()
        self._boot_error = None
        self._kernel = None
        self._milestones = {}

    # -- power -----------------------------------------------------------------------------

    def power_on(self):
        with self._lock:
            if not self._running():
                self._start()
            return self.status()

    def power_off(self, hard=True):
        with self._lock:
            self._quit()
            return self.status()

    def cycle(self):
        with self._lock:
            self._quit()
            self._start()
            return self.status()

    def soft_reboot(self):
        """A VM board's own ``system.reboot`` reboots the guest for real; from outside: cycle."""
        return self.cycle()

    def soft_poweroff(self):
        return self.power_off()

    def set_fault(self, name):
        if name != "clear":
            raise LabError(f"VM board {self.name} takes no injected faults (break its export instead)")
        return self.status()

    def cmdline(self):
        """What a board needs (docs/images.md), then the lab's own boot config (BOOT_OPTIONS)."""
        port = f",port={self.nfs_port}" if self.nfs_port != 2049 else ""
        return (f"console=ttyS0 boot=nfs4 nfsroot={self.server}:{self.nfsroot}{port},{NFS_OPTIONS} "
                f"ip={self.ip}::{self.server}:{self.netmask}:{self.name}:eth0:off net.ifnames=0 "
                f"rw panic=5 rootdelay={self.rootdelay} {BOOT_OPTIONS}")

    def _running(self):
        return self._proc is not None and self._proc.poll() is None

    def _start(self):
        boot_dir = self.run_dir / "boot"
        try:
            self._kernel = extract_boot_files(self.nfsroot, boot_dir)[0]
        except LabError as err:
            if not (boot_dir / "vmlinuz").is_file():
                self._boot_error = str(err)
                raise
            log.warning("%s: %s; booting the kernel it had", self.name, err)
        self._generation += 1
        self._boots += 1
        self._since = time.time()
        self._boot_error = None
        self._milestones = {}
        console_dir = self.run_dir / "console"
        console_dir.mkdir(parents=True, exist_ok=True)
        console = console_dir / f"boot-{self._boots}.log"
        latest = self.run_dir / "console.log"
        latest.unlink(missing_ok=True)
        latest.symlink_to(console.relative_to(self.run_dir))
        self.qmp_socket.unlink(missing_ok=True)
        accel = choose_accel()
        args = [
            QEMU, "-name", self.name, "-accel", accel, "-machine", "q35", "-cpu", self.cpu_model,
            "-smp", str(self.cpus), "-m", str(self.memory), "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot", "-rtc", "base=utc",
            "-kernel", str(boot_dir / "vmlinuz"), "-initrd", str(boot_dir / "initrd.img"),
            "-append", self.cmdline(),
            "-netdev", f"tap,id=net0,ifname={self.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=net0,mac={self.mac}",
            "-device", "virtio-rng-pci",
            "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
        ]
        with open(self.run_dir / "qemu.err", "ab") as err:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=err, start_new_session=True, cwd="/")
        log.info("%s powered on: QEMU %d (%s, kernel %s)", self.name, self._proc.pid, accel, self._kernel)
        threading.Thread(target=self._pump, args=(self._proc, console, self._generation, time.monotonic()),
                         daemon=True, name=f"console-{self.name}").start()

    def _quit(self):
        proc = self._proc
        if proc is None:
            return
        self._generation += 1  # the pump of this QEMU must not restart it
        if proc.poll() is None:
            try:
                qmp.command(self.qmp_socket, "quit")
            except qmp.QmpError as err:
                log.warning("%s: QMP quit failed (%s); killing QEMU", self.name, err)
            try:
                proc.wait(timeout=QUIT_WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=QUIT_WAIT)
            log.info("%s powered off", self.name)
        self._proc = None
        self._since = time.time()

    def _pump(self, proc, console, generation, started):
        """Copy the serial console to the boot's log, timestamped; then see why QEMU ended."""
        panicked = False
        with open(console, "w", encoding="utf-8", errors="replace") as out:
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                elapsed = time.monotonic() - started
                out.write(f"[+{elapsed:8.3f}] {line}\n")
                out.flush()
                panicked = panicked or bool(PANIC.search(line))
                for name, pattern in MILESTONES:
                    if name not in self._milestones and pattern.search(line):
                        self._milestones[name] = round(elapsed, 3)
        proc.wait()
        with self._lock:
            if generation != self._generation:
                return  # powered off or cycled on purpose
            self._proc = None
            self._since = time.time()
            if panicked:
                self._boot_error = f"boot {self._boots} ended in a kernel panic (see {console})"
                log.info("%s: %s; it stays off", self.name, self._boot_error)
                return
            log.info("%s: the guest rebooted (QEMU exited %s); booting again", self.name, proc.returncode)
            try:
                self._start()
            except LabError as err:
                log.warning("%s does not boot again: %s", self.name, err)

    # -- status ----------------------------------------------------------------------------

    def _qmp_state(self):
        try:
            return (qmp.command(self.qmp_socket, "query-status", timeout=2) or {}).get("status")
        except qmp.QmpError:
            return None

    def status(self):
        with self._lock:
            running = self._running()
            state = self._qmp_state() if running else None
            if not running:
                minion = "boot_failed" if self._boot_error else "off"
            elif "minion_ready" in self._milestones:
                minion = "ready"
            elif "multi_user" in self._milestones:
                minion = "running"
            else:
                minion = "booting"
            return {
                "board": self.name, "kind": self.kind,
                "power": "on" if running else "off",
                "vm_state": state,
                "minion": minion,
                "minion_id": None,
                "ip": self.ip, "mac": self.mac, "tap": self.tap, "netns": None,
                "nfsroot": self.nfsroot,
                "kernel": self._kernel,
                "boot_error": self._boot_error,
                "boots": self._boots,
                "since": self._since,
                "milestones": dict(self._milestones),
                "console": str(self.run_dir / "console.log"),
                "faults": sorted(self.faults),
            }


def qemu_available():
    return shutil.which(QEMU) is not None
