"""The NFS-Ganesha backend: one file of EXPORT blocks the farm owns, applied live over DBus.

``ganesha_conf`` (default ``/etc/ganesha/jetson.conf``) is ``%include``-d by ganesha.conf and
holds one block per board, each behind a ``# jetson-board: <board>`` line, with the board's
stable Export_Id and ``Path = Pseudo = nfsroot``. A change is applied to the running daemon
with AddExport/UpdateExport/RemoveExport (org.ganesha.nfsd, /org/ganesha/nfsd/ExportMgr) and
proved by ShowExports. A Ganesha that does not answer on the bus is an error before anything
changes: the farm never writes an export it cannot prove.
"""

import logging
import re

from jetson_farm.errors import NfsError
from jetson_farm.nfs import common
from jetson_farm.nfs.dbus import GaneshaDbus

log = logging.getLogger(__name__)

HEADER = ("# Managed by jetson-farm (jetson_nfs, ganesha backend): one EXPORT block per board.\n"
          "# Edits here are overwritten; change the jetson pillar instead.\n")
MARKER = "# jetson-board: "
MARKER_RE = re.compile(r"^# jetson-board: (\S+)$", re.MULTILINE)
SQUASH = {"no_root_squash": "No_Root_Squash", "all_squash": "All_Squash", "root_squash": "Root_Squash"}


def render_block(nfs, board):
    """The EXPORT block of ``board``: readable and writable by the board's own ip only.

    Access and squash come from the site's options and hold in the board's CLIENT block; every
    other client gets the export-level ``Access_Type = None`` (rule 7).
    """
    options = set(nfs.options)
    access = "RO" if "ro" in options else "RW"
    squash = next((SQUASH[o] for o in ("all_squash", "no_root_squash", "root_squash") if o in options),
                  "Root_Squash")
    client = [f"Clients = {board.ip};", f"Access_Type = {access};", f"Squash = {squash};"]
    if "secure" in options:
        client.append("PrivilegedPort = true;")
    for option in nfs.options:
        key, _, value = option.partition("=")
        if key in ("anonuid", "anongid") and value.isdigit():
            client.append(f"Anonymous_{'Uid' if key == 'anonuid' else 'Gid'} = {value};")
    return (f"{MARKER}{board.name}\n"
            "EXPORT {\n"
            f"    Export_Id = {board.export_id};\n"
            f'    Path = "{board.nfsroot}";\n'
            f'    Pseudo = "{board.nfsroot}";\n'
            # Export-level access is what every client *not* in a CLIENT block gets: none.
            "    Access_Type = None;\n"
            "    Squash = All_Squash;\n"
            "    SecType = sys;\n"
            # A swap writes into the exported tree behind the client's back; with the default
            # 60 s attribute cache a booting board would not see the injected files.
            "    Attr_Expiration_Time = 0;\n"
            "    FSAL { Name = VFS; }\n"
            f"    CLIENT {{ {' '.join(client)} }}\n"
            "}\n")


CLIENTS_RE = re.compile(r"CLIENT \{ Clients = ([^;]+);")
EXPORT_RE = re.compile(r"Export_Id = (\d+);.*?Path = \"([^\"]*)\";", re.DOTALL)


def block_clients(block):
    """The clients a block of the farm's file names (``[]`` if none)."""
    return [c.strip() for match in CLIENTS_RE.finditer(block) for c in match.group(1).split(",")]


def parse_conf(text):
    """``{board: block text}`` of the farm's Ganesha file (each block starts at its marker line)."""
    text = text or ""
    starts = [(m.start(), m.group(1)) for m in MARKER_RE.finditer(text)]
    blocks = {}
    for i, (start, board) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        blocks[board] = text[start:end].rstrip("\n") + "\n"
    return blocks


def render_conf(blocks):
    return HEADER + "".join("\n" + blocks[board] for board in sorted(blocks))


class GaneshaBackend(common.OwnedFileBackend):
    """Exports through a running NFS-Ganesha (AddExport/UpdateExport/RemoveExport over DBus).

    ``nfs`` is the site's NfsConfig; the owned file is its ``ganesha_conf``.
    """

    name = "ganesha"

    def __init__(self, nfs):
        self.nfs = nfs
        self.owned_file = nfs.ganesha_conf
        self.bus = GaneshaDbus(getattr(nfs, "ganesha_dbus", "") or "")

    def configured(self):
        return parse_conf(common.read_text(self.nfs.ganesha_conf))

    def _live_ids_of(self, path, live):
        return sorted(i for i, p in live.items() if p == path)

    def exports(self, boards):
        """Every export of this Ganesha (live, or a block of the farm's file), each marked
        ``known`` when it is the nfsroot of one of ``boards`` and ``current`` when it is exactly
        what :meth:`export` makes of it; Ganesha's own pseudo root (id 0) is left out."""
        live, configured = self.bus.show_exports(), self.configured()
        live.pop(0, None)
        by_path = {board.nfsroot: board for board in boards}
        found, listed = [], set()
        for marker, block in sorted(configured.items()):
            match = EXPORT_RE.search(block)
            if not match:
                continue
            export_id, path = int(match.group(1)), match.group(2)
            listed.add(export_id)
            board = by_path.get(path)
            active = live.get(export_id) == path
            found.append(self._entry(path, export_id, block_clients(block), board, marker, active, True,
                                     current=board is not None and active
                                     and block == render_block(self.nfs, board)))
        for export_id, path in sorted(live.items()):
            if export_id not in listed:
                found.append(self._entry(path, export_id, [], by_path.get(path), None, True, False,
                                         current=False))
        return found

    def _entry(self, path, export_id, clients, board, marker, active, configured, current):
        return {"board": board.name if board else marker, "path": path, "clients": clients,
                "options": list(self.nfs.options) if board else [], "export_id": export_id,
                "active": active, "configured": configured, "known": board is not None,
                "current": current}

    def is_exported(self, board):
        """True while Ganesha serves the board's nfsroot under any export id."""
        return bool(self._live_ids_of(board.nfsroot, self.bus.show_exports()))

    def _write(self, blocks):
        common.write_atomically(self.nfs.ganesha_conf, render_conf(blocks))

    def _export(self, board, test):
        result = common.Result(board=board.name, path=board.nfsroot)
        live = self.bus.show_exports()  # unreachable Ganesha: fail before anything changes
        old_text = common.read_text(self.nfs.ganesha_conf)
        blocks = parse_conf(old_text)
        wanted = render_block(self.nfs, board)
        file_changed = blocks.get(board.name) != wanted
        # Another id serving this path, or this board's id serving another path (a renamed nfsroot).
        stale = sorted(i for i, path in live.items()
                       if (path == board.nfsroot) != (i == board.export_id))
        must_add = board.export_id not in live or board.export_id in stale
        if stale:
            result.changes["stale"] = "removed export id " + ", ".join(map(str, stale))
        if file_changed:
            result.changes["file"] = (f"{'updated' if board.name in blocks else 'added'} "
                                      f"in {self.nfs.ganesha_conf}")
        if must_add:
            result.changes["live"] = f"exported as id {board.export_id}"
        elif file_changed:
            result.changes["live"] = f"updated export id {board.export_id}"
        if test or not result.changes:
            return result
        for export_id in stale:
            self.bus.remove_export(export_id)
        if file_changed:
            blocks[board.name] = wanted
            self._write(blocks)
        try:
            if must_add:
                self.bus.add_export(self.nfs.ganesha_conf, board.export_id)
            elif file_changed:
                self.bus.update_export(self.nfs.ganesha_conf, board.export_id)
        except NfsError:
            if file_changed:
                self._restore(old_text)
            raise
        if self.bus.show_exports().get(board.export_id) != board.nfsroot:
            raise NfsError(f"Ganesha accepted export id {board.export_id} but ShowExports does not list "
                           f"{board.nfsroot}")
        return result

    def _restore(self, old_text):
        common.write_atomically(self.nfs.ganesha_conf, old_text if old_text is not None else HEADER)

    def _unexport(self, board, test):
        result = common.Result(board=board.name, path=board.nfsroot)
        ids = self._live_ids_of(board.nfsroot, self.bus.show_exports())
        blocks = self.configured()
        if ids:
            result.changes["live"] = "removed export id " + ", ".join(map(str, ids))
        if board.name in blocks:
            result.changes["file"] = f"removed from {self.nfs.ganesha_conf}"
        if test:
            return result
        for export_id in ids:
            self.bus.remove_export(export_id)
        if self._live_ids_of(board.nfsroot, self.bus.show_exports()):
            raise NfsError(f"Ganesha still lists {board.nfsroot} after RemoveExport")
        if board.name in blocks:
            del blocks[board.name]
            self._write(blocks)
        return result

    def reload(self):
        """Make Ganesha serve every block of the file: AddExport what is missing, UpdateExport the rest."""
        with common.owned_file_lock(self.nfs.ganesha_conf):
            return self._reload()

    def _reload(self):
        live = self.bus.show_exports()
        done = {}
        for board, block in sorted(self.configured().items()):
            match = re.search(r"Export_Id = (\d+);", block)
            if not match:
                continue
            export_id = int(match.group(1))
            if export_id in live:
                self.bus.update_export(self.nfs.ganesha_conf, export_id)
                done[board] = "updated"
            else:
                self.bus.add_export(self.nfs.ganesha_conf, export_id)
                done[board] = "added"
        return {"reloaded": True, "boards": done, "warnings": []}

    def sessions(self, ip=None):
        """Ganesha's clients (ClientMgr.ShowClients) and TCP connections to port 2049."""
        found = [{"ip": address, "via": "ganesha"} for address in self.bus.show_clients()]
        found += common.tcp_sessions(common.NFS_PORT)
        return [s for s in found if ip is None or s["ip"] == ip]
