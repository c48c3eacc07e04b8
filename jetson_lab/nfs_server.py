"""A private NFS-Ganesha instance (VFS FSAL, NFSv4 only), for the lab's farm and the tests.

``GaneshaServer(state_dir, bind_addr="127.0.0.1", port=2049, dbus=True, exports_conf=None)``

- ``state_dir``: a folder this instance owns. It holds ``ganesha.conf`` (written by start()),
  ``ganesha.pid``, ``ganesha.log``, ``recovery/`` (NFSv4 client recovery), and with dbus=True
  ``bus.conf`` and ``bus.sock`` of the instance's own dbus-daemon.
- ``exports_conf``: the file of EXPORT blocks that ganesha.conf ``%include``-s; default
  ``<state_dir>/jetson.conf``. Point the site's pillar ``nfs.ganesha_conf`` at it, and
  ``nfs.ganesha_dbus`` at :attr:`dbus_address`, so ``jetson_nfs`` edits and applies it.
  start() creates it empty if it does not exist.
- ``bind_addr``/``port``: where NFS listens (TCP only). NFSv4 only, with NLM, RQUOTA and UDP
  off, so nothing needs rpcbind and two instances never clash there (Ganesha logs that it
  cannot register with rpcbind; that is expected and harmless). The lab binds its bridge
  address, the tests 127.0.0.1 on a free port.
- ``dbus``: start a private dbus-daemon and run Ganesha with ``DBUS_SYSTEM_BUS_ADDRESS`` set to
  it, so two instances never clash on the bus name ``org.ganesha.nfsd``. Callers use
  :attr:`dbus_address` (``unix:path=<state_dir>/bus.sock``) for ``busctl --address=...`` or
  ``DBUS_SYSTEM_BUS_ADDRESS=... dbus-send --system ...``. With dbus=False Ganesha runs
  without a bus and exports change only by restart.

Methods: ``start(timeout=30)`` (returns self; raises LabNfsError with the log's tail if
Ganesha or the bus fails, or if something already listens on bind_addr:port), ``stop(timeout=15)``
(idempotent), ``running()``, ``url(path, file="")``; also a context manager.

Reading an export with libnfs (``nfs-ls``/``nfs-cat``, package libnfs-utils): the URL takes
its options as query arguments: ``nfs://127.0.0.1/<path>?version=4&nfsport=<port>``.
``version=4`` speaks NFSv4 (no MOUNT protocol, no rpcbind) and ``nfsport=<port>`` names a port
other than 2049 (``mountport=`` exists for NFSv3 only). :meth:`url` builds it.
"""

import logging
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.parse

from jetson_farm.errors import NfsError

log = logging.getLogger(__name__)

GANESHA = "ganesha.nfsd"
PLUGINS_DIR = "/usr/lib/x86_64-linux-gnu/ganesha"
BUS_NAME = "org.ganesha.nfsd"
COMMAND_TIMEOUT = 10

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy user="root">
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

GANESHA_CONF = """# Written by jetson_lab.nfs_server; rewritten at every start.
NFS_CORE_PARAM {{
    Protocols = 4;
    NFS_Port = {port};
    Bind_addr = {bind_addr};
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    Plugins_Dir = "{plugins}";
}}
NFS_KRB5 {{ Active_krb5 = false; }}
NFSV4 {{
    RecoveryBackend = fs;
    RecoveryRoot = "{recovery}";
    Graceless = true;
    # Boards have no idmapper: owners travel as numbers.
    Only_Numeric_Owners = true;
}}
EXPORT_DEFAULTS {{ Access_Type = None; }}
LOG {{ Default_Log_Level = EVENT; }}
%include "{exports}"
"""


class LabNfsError(NfsError):
    """The private Ganesha (or its bus) did not start or stop."""


def _plugins_dir():
    for candidate in (PLUGINS_DIR, "/usr/lib/ganesha", "/usr/lib64/ganesha"):
        if os.path.exists(os.path.join(candidate, "libfsalvfs.so")):
            return candidate
    raise LabNfsError("the Ganesha VFS FSAL (libfsalvfs.so) is not installed: install nfs-ganesha-vfs")


class GaneshaServer:
    """One private ganesha.nfsd with its own config, pid, log, recovery folder and bus."""

    def __init__(self, state_dir, bind_addr="127.0.0.1", port=2049, dbus=True, exports_conf=None):
        self.state_dir = pathlib.Path(state_dir)
        self.bind_addr = bind_addr
        self.port = int(port)
        self.dbus = dbus
        self.exports_conf = pathlib.Path(exports_conf) if exports_conf else self.state_dir / "jetson.conf"
        self.conf_path = self.state_dir / "ganesha.conf"
        self.pid_path = self.state_dir / "ganesha.pid"
        self.log_path = self.state_dir / "ganesha.log"
        self.bus_socket = self.state_dir / "bus.sock"
        self._ganesha = None
        self._bus = None

    @property
    def dbus_address(self):
        """The private bus's address, or "" when this instance runs without DBus."""
        return f"unix:path={self.bus_socket}" if self.dbus else ""

    def url(self, path, file=""):
        """The libnfs URL of ``file`` under the export ``path``."""
        full = path.rstrip("/") + ("/" + file.lstrip("/") if file else "")
        query = urllib.parse.urlencode({"version": 4, "nfsport": self.port})
        return f"nfs://{self.bind_addr}{urllib.parse.quote(full)}?{query}"

    def running(self):
        return self._ganesha is not None and self._ganesha.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- start -----------------------------------------------------------------------------

    def start(self, timeout=30):
        if self.running():
            return self
        if self._port_taken():
            raise LabNfsError(f"something already listens on {self.bind_addr}:{self.port}; "
                              "choose another port or stop it")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "recovery").mkdir(exist_ok=True)
        if not self.exports_conf.exists():
            self.exports_conf.parent.mkdir(parents=True, exist_ok=True)
            self.exports_conf.write_text("# no exports yet\n")
        self.conf_path.write_text(GANESHA_CONF.format(
            port=self.port, bind_addr=self.bind_addr, plugins=_plugins_dir(),
            recovery=self.state_dir / "recovery", exports=self.exports_conf))
        env = dict(os.environ)
        try:
            if self.dbus:
                self._start_bus(timeout)
                env["DBUS_SYSTEM_BUS_ADDRESS"] = self.dbus_address
            self._start_ganesha(env, timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Ganesha listening on %s:%d (pid %d, bus %s)", self.bind_addr, self.port,
                 self._ganesha.pid, self.dbus_address or "none")
        return self

    def _start_bus(self, timeout):
        bus_conf = self.state_dir / "bus.conf"
        bus_conf.write_text(BUS_CONF.format(socket=self.bus_socket))
        self.bus_socket.unlink(missing_ok=True)
        self._bus = subprocess.Popen(["dbus-daemon", f"--config-file={bus_conf}", "--nofork", "--nopidfile"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait(lambda: self.bus_socket.exists(), timeout, "the private dbus-daemon", self._bus)

    def _start_ganesha(self, env, timeout):
        self.log_path.write_text("")
        self.pid_path.unlink(missing_ok=True)
        self._ganesha = subprocess.Popen(
            [GANESHA, "-F", "-f", str(self.conf_path), "-L", str(self.log_path),
             "-p", str(self.pid_path), "-N", "NIV_EVENT"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait(self._port_taken, timeout, "ganesha.nfsd", self._ganesha)
        if self.dbus:
            self._wait(self._owns_bus_name, timeout, "ganesha.nfsd on its bus", self._ganesha)

    def _wait(self, ready, timeout, what, process):
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise LabNfsError(f"{what} exited with status {process.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise LabNfsError(f"{what} was not ready within {timeout}s: {self._log_tail()}")
            time.sleep(0.1)

    def _port_taken(self):
        try:
            with socket.create_connection((self.bind_addr, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _owns_bus_name(self):
        completed = subprocess.run(
            ["busctl", f"--address={self.dbus_address}", "--json=short", "call", "org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s", BUS_NAME],
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
        return completed.returncode == 0 and '"data":[true]' in completed.stdout

    def _log_tail(self, lines=15):
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- stop ------------------------------------------------------------------------------

    def stop(self, timeout=15):
        """Stop Ganesha, then its bus. Safe to call twice or after a failed start."""
        for attr in ("_ganesha", "_bus"):
            process = getattr(self, attr)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    log.warning("%s (pid %d) ignored SIGTERM; killing it", attr.strip("_"), process.pid)
                    process.kill()
                    process.wait(timeout=timeout)
            if process.stderr:
                process.stderr.close()
            setattr(self, attr, None)
        self.bus_socket.unlink(missing_ok=True)
