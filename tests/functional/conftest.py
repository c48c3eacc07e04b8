"""The modules through Salt's real loader, in this process (no daemons).

One set of loaders serves the whole session: their opts are the same for every test, and building
them (grains, the state system) costs seconds. What a test may change is reset before
each test: the ``jetson`` pillar is its own (``set_pillar``), and ``reload_all`` gives fresh
modules, opts, a fresh copy of the host's grains, ``__context__`` and cache dir, so no test sees
another's leftovers. What the modules fire (``event.send``) reaches a minion event bus of the
session's (``loaders.bus``), emptied before each test.
"""

import copy
import json
import os
import pathlib
import socket
import struct
import threading
import uuid

import pytest
import salt.transport
import salt.utils.event
import salt.utils.msgpack
from saltfactories.utils.functional import Loaders

from tests.conftest import make_pillar
from tests.key_pool import rsa_keys_once_a_session  # noqa: F401 (autouse fixture)


class FarmLoaders(Loaders):
    """Salt's functional loaders, whose ``jetson`` pillar is read from ``pillar_dir``, and whose
    events go to ``bus`` (a MinionEventBus)."""

    def __init__(self, opts, pillar_dir, bus, loaded_base_name=None):
        self.pillar_dir = pillar_dir
        self.bus = bus
        self._session_grains = None
        super().__init__(opts, loaded_base_name=loaded_base_name)

    @property
    def grains(self):
        """The host's grains, loaded once (the opts never change); each reload gets a fresh copy."""
        if self._grains is None:
            if self._session_grains is None:
                self._session_grains = copy.deepcopy(Loaders.grains.fget(self))
            self._grains = copy.deepcopy(self._session_grains)
        return self._grains

    def set_pillar(self, pillar):
        """Make ``pillar`` the compiled ``jetson`` pillar, and reload every loader over it (fresh
        modules, opts, ``__context__`` and cache dir)."""
        (self.pillar_dir / "jetson.sls").write_text(json.dumps({"jetson": pillar}))
        self.reload_all()


class MinionEventBus:
    """The pull socket of a running minion's event bus, where ``event.send`` writes; it keeps
    each ``(tag, data)`` fired. Without it every send would wait out Salt's 1 s connect timeout
    and fail, as no minion daemon runs here."""

    def __init__(self, opts):
        self.path = salt.transport.ipc_publish_server("minion", opts).pull_path
        self.fired = []
        self._arrived = threading.Condition()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection):
        buffer = b""
        with connection:
            while chunk := connection.recv(65536):
                buffer += chunk
                # Salt's IPC frame: a 4-byte big-endian length, then msgpack {"head", "body"}.
                while len(buffer) >= 4 and len(buffer) >= 4 + (size := struct.unpack(">I", buffer[:4])[0]):
                    frame = salt.utils.msgpack.loads(buffer[4:4 + size], raw=False)
                    buffer = buffer[4 + size:]
                    with self._arrived:
                        self.fired.append(salt.utils.event.SaltEvent.unpack(frame["body"]))
                        self._arrived.notify_all()

    def wait_for(self, tag, timeout=30):
        """The data of the first event fired with ``tag``, waiting for it up to ``timeout`` s."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: [data for name, data in self.fired if name == tag],
                                           timeout)
        assert found, f"no event {tag} within {timeout}s; fired: {self.fired}"
        return found[0]

    def close(self):
        self._server.close()
        os.unlink(self.path)


def site_loaders(salt_factories, tmp_path_factory, minion_id="site01"):
    """The loaders of a site minion ``minion_id``, with a pillar folder of its own (close their
    ``bus`` when done)."""
    pillar_dir = tmp_path_factory.mktemp("pillar")
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - jetson\n")
    (pillar_dir / "jetson.sls").write_text(json.dumps({"jetson": {}}))
    # The modules come from the package's salt.loader entry point, as on a site server; the
    # file roots are an empty folder, so the sync pytest-salt-factories' loaders run once at
    # their start finds nothing to copy into extension_modules.
    file_root = tmp_path_factory.mktemp("file-root")
    factory = salt_factories.salt_minion_daemon(
        minion_id,
        overrides={
            "file_client": "local",
            "pillar_roots": {"base": [str(pillar_dir)]},
            "file_roots": {"base": [str(file_root)]},
        },
    )
    # A second minion's modules must be other module objects than the first's (their dunders
    # differ), so its loaders get a base name of their own.
    base_name = None if minion_id == "site01" else f"salt.loaded_{minion_id}"
    return FarmLoaders(factory.config.copy(), pillar_dir, MinionEventBus(factory.config), base_name)


@pytest.fixture(scope="session")
def session_loaders(salt_factories, tmp_path_factory):
    """The loaders of minion ``site01``, one set for the session."""
    loaders = site_loaders(salt_factories, tmp_path_factory)
    yield loaders
    loaders.bus.close()


@pytest.fixture
def loaders(session_loaders, pillar):
    """The session's loaders with ``pillar`` compiled, reset for this test and after it."""
    session_loaders.set_pillar(pillar)
    session_loaders.bus.fired.clear()
    yield session_loaders
    session_loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture
def exports_file():
    """A kernel-backend exports file of this test's own, removed afterwards."""
    path = pathlib.Path(f"/etc/exports.d/jetson-test-{uuid.uuid4().hex[:8]}.exports")
    yield path
    path.unlink(missing_ok=True)


def kernel_pillar(farm_dir, exports_file):
    """The farm's pillar on the kernel backend with ``exports_file``, every nfsroot made."""
    pillar = make_pillar(farm_dir, exports_file=str(exports_file))
    for board in pillar["boards"].values():
        pathlib.Path(board["nfsroot"]).mkdir()
    return pillar
