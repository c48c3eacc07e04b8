"""What both NFS backends share: running their commands, who holds a session, waiting idle.

A board is idle when it holds no NFS session and answers no ping (docs/architecture.md, switch
step 2). A board that answers no ping but still has a TCP connection to the NFS port is a board
that lost its power: the server keeps such a connection for minutes, so it is ended
(:func:`end_sessions`) rather than waited out.
"""

import contextlib
import fcntl
import ipaddress
import logging
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field

from jetson_farm import batch
from jetson_farm.errors import NfsError, Timeout

log = logging.getLogger(__name__)

NFS_PORT = 2049
COMMAND_TIMEOUT = 30
TCP_ESTABLISHED = "01"
PROC_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
PROC_NFSD_CLIENTS = "/proc/fs/nfsd/clients"


@dataclass
class Result:
    """What one call changed: ``changes`` is empty when nothing did; warnings never fail a call."""

    board: str
    path: str
    changes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.changes)

    def as_dict(self):
        return dict(asdict(self), changed=self.changed)


def run(argv, timeout=COMMAND_TIMEOUT, env=None):
    """Run ``argv`` (a list, never a shell string); the CompletedProcess, or NfsError if it cannot run."""
    log.debug("running %s", argv)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except FileNotFoundError as err:
        raise NfsError(f"{argv[0]} is not installed: {err}") from err
    except subprocess.TimeoutExpired as err:
        raise NfsError(f"{' '.join(argv)} did not finish within {timeout}s") from err


def normalise_ip(address):
    """``::ffff:10.0.0.5`` -> ``10.0.0.5``; other addresses unchanged."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def _proc_tcp_address(hex_address):
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ipaddress.IPv4Address(raw[::-1])
    else:  # four little-endian 32-bit words
        ip = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
    return normalise_ip(str(ip)), int(port, 16)


def tcp_sessions(port=NFS_PORT, paths=PROC_TCP):
    """Established TCP connections to local ``port``: ``[{"ip", "port", "via": "tcp"}]``."""
    sessions = []
    for path in paths:
        try:
            with open(path, encoding="ascii") as handle:
                lines = handle.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != TCP_ESTABLISHED:
                continue
            _, local_port = _proc_tcp_address(fields[1])
            if local_port == port:
                ip, remote_port = _proc_tcp_address(fields[2])
                sessions.append({"ip": ip, "port": remote_port, "via": "tcp"})
    return sessions


def nfsd_clients(folder=PROC_NFSD_CLIENTS):
    """The kernel nfsd's NFSv4 clients (``/proc/fs/nfsd/clients/*/info``): ``[{"ip", "name", "via"}]``."""
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    clients = []
    for entry in entries:
        try:
            with open(os.path.join(folder, entry, "info"), encoding="utf-8", errors="replace") as handle:
                info = handle.read(65536)
        except OSError:
            continue  # the client went away while we read
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        address = fields.get("address", "").strip().strip('"')
        host = address.rsplit(":", 1)[0].strip("[]") if address else ""
        clients.append({"ip": normalise_ip(host), "name": fields.get("name", "").strip().strip('"'),
                        "via": "nfsd"})
    return clients


PING_WAIT = "0.2"  # seconds for one echo: a board on the site's segment answers in far less


def answers_ping(ip, wait=PING_WAIT):
    """True if ``ip`` answers one ICMP echo within ``wait`` seconds."""
    return run(["ping", "-c1", "-W", str(wait), "-n", "-q", ip], timeout=10).returncode == 0


def end_sessions(ip, port=NFS_PORT):
    """End the TCP connections from ``ip`` to the local NFS ``port`` (``ss -K``): the list ended.

    After a hard power-off the server's side of a board's connection stays ESTABLISHED for
    minutes, retransmitting; killing the socket makes the NFS server (kernel nfsd and Ganesha
    alike) drop it at once. NfsError if one is still there afterwards (a kernel built without
    ``CONFIG_INET_DIAG_DESTROY``, or no CAP_NET_ADMIN).
    """
    ip = normalise_ip(ip)
    found = [s for s in tcp_sessions(port) if s["ip"] == ip]
    if not found:
        return []
    completed = run(["ss", "-K", "-H", "-t", "dst", ip, "sport", "=", f":{port}"])
    if completed.returncode != 0:
        raise NfsError(f"ss -K dst {ip} sport :{port} failed: {completed.stderr.strip()}")
    left = [s for s in tcp_sessions(port) if s["ip"] == ip]
    if left:
        raise NfsError(f"the NFS connections of {ip} survived ss -K (ports "
                       f"{', '.join(str(s['port']) for s in left)}): the kernel cannot destroy sockets")
    log.info("ended %d stale NFS connection(s) of %s", len(found), ip)
    return [f"{s['ip']}:{s['port']}" for s in found]


def what_holds(backend, board):
    """Why ``board`` is not idle: ``(reasons, pings)``, reasons empty when it is idle.

    A session is a live connection to the NFS port. The server's client records (nfsd's
    ``clients/*/info``, Ganesha's ShowClients) outlive a board that lost power by a whole lease
    period (minutes on Ganesha), so they are listed by ``clients`` but do not hold a board up.
    """
    reasons = []
    sessions = [s for s in backend.sessions(ip=board.ip) if s["via"] == "tcp"]
    if sessions:
        found = ", ".join(f"{s['ip']}:{s['port']} ({s['via']})" if "port" in s else f"{s['ip']} ({s['via']})"
                          for s in sessions)
        reasons.append(f"it holds an NFS session: {found}")
    pings = answers_ping(board.ip)
    if pings:
        reasons.append(f"it answers ping at {board.ip}")
    return reasons, pings


def wait_idle(backend, board, timeout, interval=0.2):
    """Return once ``board`` holds no NFS session and answers no ping; Timeout naming what held.

    A board that answers no ping is down: its lingering connections are ended, not waited out
    (``ended`` lists them).
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        reasons, pings = what_holds(backend, board)
        ended = [] if pings or not reasons else end_sessions(board.ip)
        if not pings:
            return {"board": board.name, "ip": board.ip, "idle": True, "ended": ended,
                    "waited": round(time.monotonic() - started, 1)}
        if time.monotonic() >= deadline:
            raise Timeout(f"board {board.name} is not idle after {timeout}s: " + "; and ".join(reasons))
        time.sleep(interval)


@contextlib.contextmanager
def owned_file_lock(path):
    """Hold an exclusive lock for read-modify-write of the farm's one owned file ``path``.

    Salt runs jobs for several boards at once (a parallel switch); without it two exports
    would each rewrite the file from the same old text and one board's line would be lost.
    The lock is taken on the file's folder, because the file itself is replaced by rename
    and the farm creates no second file next to it.
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def write_atomically(path, text):
    """Replace ``path`` with ``text`` in one rename, so a reader never sees half a file."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    name = f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary = os.path.join(folder, name)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def read_text(path):
    """The text of ``path``, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def check_export_path(path):
    """Refuse an nfsroot that no server could export, before anything changes."""
    if any(char in path for char in '"\n\r#\\'):
        raise NfsError(f"nfsroot {path!r} holds a character no exports file can carry")
    if not os.path.isdir(path):
        raise NfsError(f"nfsroot {path} is not a directory on this server; nothing was exported")


class OwnedFileBackend:
    """What both backends share: every change to exports runs under the lock of the one file the
    backend owns, so parallel switches of several boards never lose a line of it.

    A backend sets ``owned_file`` and implements ``_export``/``_unexport(board, test)``.
    """

    owned_file = None

    def export(self, board, test=False):
        """Export ``board.nfsroot`` to ``board.ip`` only, live and in the owned file.

        With ``test``, change nothing and report what would change.
        """
        check_export_path(board.nfsroot)
        with owned_file_lock(self.owned_file):
            return self._export(board, test)

    def unexport(self, board, test=False):
        """Withdraw ``board.nfsroot`` from every client, live and from the owned file.

        With ``test``, change nothing and report what would change.
        """
        with owned_file_lock(self.owned_file):
            return self._unexport(board, test)

    def export_many(self, boards):
        """Export every board of ``boards`` under one lock: ``{"done": {board: result}, "failed": {...}}``."""
        return self._each(boards, lambda board: (check_export_path(board.nfsroot),
                                                 self._export(board, False))[1].as_dict())

    def unexport_many(self, boards):
        """Unexport every board of ``boards`` under one lock, each failing alone."""
        return self._each(boards, lambda board: self._unexport(board, False).as_dict())

    def _each(self, boards, work):
        by_name = {board.name: board for board in boards}
        with owned_file_lock(self.owned_file):
            return batch.each(by_name, lambda name: work(by_name[name]))
