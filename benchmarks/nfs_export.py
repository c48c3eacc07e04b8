"""How long jetson_nfs's core takes to export and unexport a board, per backend.

Run as root: ``.venv/bin/python benchmarks/nfs_export.py [ROUNDS]``. It uses the real exportfs
(with its own file in /etc/exports.d/, removed at the end) and a private Ganesha on a free
port of 127.0.0.1, and prints median and worst times in milliseconds.
"""

import pathlib
import shutil
import socket
import statistics
import sys
import time
import uuid

from jetson_farm.inventory import Inventory
from jetson_farm.nfs import backend_for
from jetson_lab.nfs_server import GaneshaServer

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SCRATCH = pathlib.Path("/var/tmp/jetson-farm-bench") / uuid.uuid4().hex[:8]


def pillar(backend, **nfs):
    return {"sites": {"site01": {"minion": "site01", "root": str(SCRATCH / "root"),
                                 "nfs": {"backend": backend, "network": "127.0.0.0/8", **nfs}}},
            "boards": {"jtk1": {"site": "site01", "ip": "127.0.11.1", "nfsroot": str(SCRATCH / "NFSRoot1")}}}


def measure(label, backend, board):
    timings = {"export": [], "export (no change)": [], "is_exported": [], "unexport": []}
    for _ in range(ROUNDS):
        for step, call in (("export", backend.export), ("export (no change)", backend.export),
                           ("is_exported", backend.is_exported), ("unexport", backend.unexport)):
            started = time.perf_counter()
            call(board)
            timings[step].append((time.perf_counter() - started) * 1000)
    for step, values in timings.items():
        print(f"{label:8} {step:20} median {statistics.median(values):7.1f} ms   worst {max(values):7.1f} ms")


def main():
    (SCRATCH / "NFSRoot1").mkdir(parents=True)
    exports_file = pathlib.Path(f"/etc/exports.d/jetson-bench-{uuid.uuid4().hex[:6]}.exports")
    try:
        inventory = Inventory.load(pillar("kernel", exports_file=str(exports_file)))
        measure("kernel", backend_for(inventory.site("site01").nfs), inventory.board("jtk1"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with GaneshaServer(SCRATCH / "ganesha", port=port) as server:
            inventory = Inventory.load(pillar("ganesha", ganesha_conf=str(server.exports_conf),
                                              ganesha_dbus=server.dbus_address))
            measure("ganesha", backend_for(inventory.site("site01").nfs), inventory.board("jtk1"))
    finally:
        exports_file.unlink(missing_ok=True)
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"({ROUNDS} rounds each)")


if __name__ == "__main__":
    main()
