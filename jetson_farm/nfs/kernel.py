"""The kernel NFS server backend: ``exportfs`` plus the one exports file the farm owns.

The farm writes only ``exports_file`` (default ``/etc/exports.d/jetson.exports``), one line
per board, and never ``/etc/exports``. A board's export is applied alone with
``exportfs -o OPTS CLIENT:PATH`` and withdrawn with ``exportfs -u CLIENT:PATH``; ``exportfs -ra``
reloads every file. The live table is ``/var/lib/nfs/etab``, which exportfs keeps even where no
kernel NFS server runs (``exportfs -v`` prints a subset of it).
"""

import logging
import os
import re

from jetson_farm.errors import NfsError
from jetson_farm.nfs import common

log = logging.getLogger(__name__)

ETAB = "/var/lib/nfs/etab"
EXPORTS_D_PATTERN = "/etc/exports.d/*.exports"
HEADER = ("# Managed by jetson-farm (jetson_nfs, kernel backend): one line per board.\n"
          "# Edits here are overwritten; change the jetson pillar instead.\n")
LINE_RE = re.compile(r'^(?P<path>"[^"]+"|\S+)\s+(?P<spec>\S+)\s+#\s*board\s+(?P<board>\S+)\s*$')
OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def board_options(nfs, board):
    """The export options of ``board``: the site's options with the board's own stable fsid."""
    options = [o for o in nfs.options if not o.startswith("fsid=")]
    return [*options, f"fsid={board.fsid}"]


def _unescape(path):
    return OCTAL_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), path)


def parse_etab(text):
    """``{path: {client: [options]}}`` from the text of etab (``path<TAB>client(opts)`` lines)."""
    table = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        path, _, spec = line.rpartition("\t")
        client, _, options = spec.partition("(")
        table.setdefault(_unescape(path.strip()), {})[client] = options.rstrip(")").split(",")
    return table


def parse_exports_file(text):
    """``{board: (path, client, [options])}`` from the farm's exports file."""
    entries = {}
    for line in (text or "").splitlines():
        match = LINE_RE.match(line)
        if match:
            client, _, options = match.group("spec").partition("(")
            entries[match.group("board")] = (match.group("path").strip('"'), client,
                                             options.rstrip(")").split(","))
    return entries


def render_exports_file(entries):
    """The exports file for ``{board: (path, client, [options])}``, sorted by board."""
    lines = [HEADER]
    for board in sorted(entries):
        path, client, options = entries[board]
        quoted = f'"{path}"' if any(c.isspace() for c in path) else path
        lines.append(f"{quoted} {client}({','.join(options)})  # board {board}\n")
    return "".join(lines)


def warnings_of(completed, what):
    """exportfs writes warnings to stderr and still exits 0: keep them as warnings, not failures."""
    return [f"{what}: {line.strip()}" for line in completed.stderr.splitlines() if line.strip()]


class KernelBackend(common.OwnedFileBackend):
    """Exports through the kernel NFS server (``exportfs``), each with the board's stable fsid.

    ``nfs`` is the site's NfsConfig; the owned file is its ``exports_file``.
    """

    name = "kernel"

    def __init__(self, nfs, etab=ETAB):
        self.nfs = nfs
        self.owned_file = nfs.exports_file
        self.etab = etab

    # -- reading ---------------------------------------------------------------------------

    def live(self):
        """What exportfs serves now: ``{path: {client: [options]}}``."""
        return parse_etab(common.read_text(self.etab))

    def configured(self):
        """What the farm's exports file holds: ``{board: (path, client, [options])}``."""
        return parse_exports_file(common.read_text(self.nfs.exports_file))

    def exports(self, boards):
        """Every export of this server (live in etab, or a line of the farm's file), each marked
        ``known`` when it is the nfsroot of one of ``boards`` and ``current`` when it is exactly
        what :meth:`export` makes of it."""
        live, configured = self.live(), self.configured()
        by_path = {board.nfsroot: board for board in boards}
        in_file = {entry[0]: (marker, entry) for marker, entry in sorted(configured.items())}
        found = []
        for path in sorted(set(live) | set(in_file)):
            clients = live.get(path, {})
            marker, entry = in_file.get(path, (None, None))
            board = by_path.get(path)
            options = next(iter(clients.values()), None) or (entry[2] if entry else [])
            found.append({"board": board.name if board else marker, "path": path,
                          "clients": sorted(clients) or ([entry[1]] if entry else []),
                          "options": options, "active": bool(clients), "configured": entry is not None,
                          "known": board is not None,
                          "current": board is not None and self._is_current(board, clients,
                                                                            board_options(self.nfs, board))})
        return found

    def is_exported(self, board):
        """True while the board's nfsroot is in the live table, for any client."""
        return bool(self.live().get(board.nfsroot))

    # -- changing --------------------------------------------------------------------------

    def _exportfs(self, argv, what):
        completed = common.run(["exportfs", *argv])
        if completed.returncode != 0:
            raise NfsError(f"{what} failed (exportfs exit {completed.returncode}): "
                           f"{completed.stderr.strip() or completed.stdout.strip()}")
        warnings = warnings_of(completed, what)
        for warning in warnings:
            log.warning("%s", warning)
        return warnings

    @staticmethod
    def _serves(clients, wanted):
        """The live entries of a path are one client with every wanted option (fsid included)."""
        return len(clients) == 1 and set(wanted) <= set(next(iter(clients.values())))

    def _is_current(self, board, clients, wanted):
        # exportfs may show a single-host client by its name (127.0.0.1 -> localhost), so a live
        # client under another name is ours when the file says we exported to the board's ip.
        entry = self.configured().get(board.name)
        ours = entry is not None and entry[:2] == (board.nfsroot, board.ip)
        return self._serves(clients, wanted) and (board.ip in clients or ours)

    def _export(self, board, test):
        result = common.Result(board=board.name, path=board.nfsroot)
        wanted = board_options(self.nfs, board)
        if not self.exports_file_is_read():
            result.warnings.append(f"{self.nfs.exports_file} is not read by 'exportfs -ra' "
                                   f"(only /etc/exports and {EXPORTS_D_PATTERN}): the export will not "
                                   "survive a reload")
        clients = self.live().get(board.nfsroot, {})
        if not self._is_current(board, clients, wanted):
            if not test:
                self._apply_export(board, clients, wanted, result)
            result.changes["live"] = "re-exported" if clients else "exported"
        self._write_entry(board, (board.nfsroot, board.ip, wanted), result, test)
        return result

    def _apply_export(self, board, clients, wanted, result):
        # Whoever else the path is exported to (the old site-wide network, a hand-made export)
        # loses it: the nfsroot is the board's alone (rule 7).
        for stale in sorted(set(clients) - {board.ip}):
            result.warnings += self._exportfs(["-u", f"{stale}:{board.nfsroot}"],
                                              f"unexport {board.nfsroot} from {stale}")
        target = f"{board.ip}:{board.nfsroot}"
        try:
            result.warnings += self._exportfs(["-o", ",".join(wanted), target], f"export {target}")
        except NfsError:
            self._undo_failed_export(board)
            raise
        if not self._serves(self.live().get(board.nfsroot, {}), wanted):
            raise NfsError(f"exportfs reported success but {target} is not in {self.etab}")

    def _undo_failed_export(self, board):
        # A failed 'exportfs -o' can still leave its entry in etab (e.g. a path it cannot stat).
        if board.ip in self.live().get(board.nfsroot, {}):
            common.run(["exportfs", "-u", f"{board.ip}:{board.nfsroot}"])

    def _unexport(self, board, test):
        result = common.Result(board=board.name, path=board.nfsroot)
        clients = self.live().get(board.nfsroot, {})
        if clients and not test:
            for client in sorted(clients):
                result.warnings += self._exportfs(["-u", f"{client}:{board.nfsroot}"],
                                                  f"unexport {board.nfsroot} from {client}")
            if self.live().get(board.nfsroot):
                raise NfsError(f"{board.nfsroot} is still in {self.etab} after exportfs -u")
        if clients:
            result.changes["live"] = "unexported from " + ", ".join(sorted(clients))
        self._write_entry(board, None, result, test)
        return result

    def _write_entry(self, board, entry, result, test):
        entries = parse_exports_file(common.read_text(self.nfs.exports_file))
        if entries.get(board.name) == entry or (entry is None and board.name not in entries):
            return
        action = "removed from" if entry is None else ("updated in" if board.name in entries else "added in")
        if not test:
            if entry is None:
                del entries[board.name]
            else:
                entries[board.name] = entry
            if entries:
                common.write_atomically(self.nfs.exports_file, render_exports_file(entries))
            else:  # no board left: leave /etc/exports.d as it was before the farm came
                os.unlink(self.nfs.exports_file)
        result.changes["file"] = f"{action} {self.nfs.exports_file}"

    def exports_file_is_read(self):
        path = self.nfs.exports_file
        return os.path.dirname(path) == "/etc/exports.d" and path.endswith(".exports")

    def reload(self):
        """``exportfs -ra``: the live table becomes what /etc/exports and /etc/exports.d/ say."""
        with common.owned_file_lock(self.nfs.exports_file):
            warnings = self._exportfs(["-ra"], "exportfs -ra")
        return {"reloaded": True, "warnings": warnings}

    def sessions(self, ip=None):
        """NFS clients of the kernel server: nfsd's v4 clients and TCP connections to port 2049."""
        found = common.nfsd_clients() + common.tcp_sessions(common.NFS_PORT)
        return [s for s in found if ip is None or s["ip"] == ip]
