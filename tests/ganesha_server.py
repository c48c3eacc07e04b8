"""The tests' private NFS-Ganesha (jetson_lab.nfs_server.GaneshaServer), one per test session.

Import the ``ganesha`` fixture into a test module (``from tests.ganesha_server import ganesha``).
Every module that does shares one server: it starts on first use, on 127.0.0.1 and a free port
(so it never meets the lab's or anyone's port 2049), with its own bus, and stops at the end
of the session. Point a pillar at it with :func:`ganesha_pillar`.
"""

import shutil
import socket
import subprocess
import uuid

import pytest

from jetson_lab.nfs_server import GaneshaServer
from tests.conftest import SCRATCH, make_pillar

NFS_CLIENT_TIMEOUT = 30
_shared = {}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def ganesha(request):
    """The session's running GaneshaServer (VFS FSAL, NFSv4, private DBus)."""
    if "server" not in _shared:
        state_dir = SCRATCH / f"ganesha-{uuid.uuid4().hex[:8]}"
        server = GaneshaServer(state_dir, bind_addr="127.0.0.1", port=_free_port(), dbus=True)
        server.start()
        _shared["server"] = server

        def stop():
            server.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
            _shared.pop("server", None)

        request.addfinalizer(stop)
    return _shared["server"]


# Where nfs_cat connects from: the server listens on 127.0.0.1, so the kernel picks that source.
READER_IP = "127.0.0.1"


def ganesha_pillar(farm_dir, server, boards=("jtk1", "jtk2")):
    """A farm pillar whose site uses the ganesha backend of ``server``. Each nfsroot is exported
    to its board's ip only, so the first board has :data:`READER_IP`: :func:`nfs_cat` reads as
    that board, and any other board's root is out of its reach."""
    pillar = make_pillar(farm_dir, boards=boards, backend="ganesha",
                         ganesha_conf=str(server.exports_conf), ganesha_dbus=server.dbus_address)
    pillar["boards"][boards[0]]["ip"] = READER_IP
    return pillar


def nfs_cat(server, path, file):
    """Read ``file`` under the export ``path`` with a real NFS client (libnfs nfs-cat)."""
    return subprocess.run(["nfs-cat", server.url(path, file)], capture_output=True, text=True,
                          timeout=NFS_CLIENT_TIMEOUT, check=False)
