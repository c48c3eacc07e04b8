"""NFS-Ganesha's DBus control interface, called with ``busctl`` (an argument list, JSON replies).

``address`` is a DBus address (``unix:path=/run/x/bus.sock``) or "" for the system bus
(which also honours ``DBUS_SYSTEM_BUS_ADDRESS``).
"""

import json
import logging

from jetson_farm.errors import NfsError
from jetson_farm.nfs import common

log = logging.getLogger(__name__)

SERVICE = "org.ganesha.nfsd"
EXPORT_MGR = ("/org/ganesha/nfsd/ExportMgr", "org.ganesha.nfsd.exportmgr")
CLIENT_MGR = ("/org/ganesha/nfsd/ClientMgr", "org.ganesha.nfsd.clientmgr")
DBUS_TIMEOUT = 15


class GaneshaUnreachable(NfsError):
    """No Ganesha answers on this bus (no bus, or the daemon does not own org.ganesha.nfsd)."""


class GaneshaDbus:
    def __init__(self, address=""):
        self.address = address

    def where(self):
        return self.address or "the system bus"

    def call(self, manager, method, signature="", *args):
        """Call ``method`` of ``manager`` (EXPORT_MGR/CLIENT_MGR); the reply's data list."""
        bus = [f"--address={self.address}"] if self.address else ["--system"]
        argv = ["busctl", *bus, "--json=short", f"--timeout={DBUS_TIMEOUT}", "call", SERVICE,
                manager[0], manager[1], method]
        if signature:
            argv += [signature, *(str(a) for a in args)]
        completed = common.run(argv, timeout=DBUS_TIMEOUT + 5)
        if completed.returncode != 0:
            error = completed.stderr.strip()
            if any(s in error for s in ("Failed to connect to bus", "was not provided by any",
                                        "ServiceUnknown", "not activatable")):
                raise GaneshaUnreachable(f"NFS-Ganesha does not answer on {self.where()}: {error}")
            raise NfsError(f"Ganesha {method}({', '.join(map(str, args))}) failed: {error}")
        return json.loads(completed.stdout)["data"] if completed.stdout.strip() else []

    def show_exports(self):
        """``{export_id: path}`` of the exports Ganesha serves now."""
        _, exports = self.call(EXPORT_MGR, "ShowExports")
        return {entry[0]: entry[1] for entry in exports}

    def add_export(self, conf_path, export_id):
        return self.call(EXPORT_MGR, "AddExport", "ss", conf_path, f"EXPORT(Export_Id={export_id})")

    def update_export(self, conf_path, export_id):
        return self.call(EXPORT_MGR, "UpdateExport", "ss", conf_path, f"EXPORT(Export_Id={export_id})")

    def remove_export(self, export_id):
        return self.call(EXPORT_MGR, "RemoveExport", "q", export_id)

    def show_clients(self):
        """The addresses of the clients Ganesha holds state for."""
        _, clients = self.call(CLIENT_MGR, "ShowClients")
        return [common.normalise_ip(entry[0]) for entry in clients]
