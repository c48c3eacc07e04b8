"""A whole lab farm for integration tests: ``jetson-lab up`` with 3 boards, once per session.

Use it with ``from tests.lab_fixture import lab_session  # noqa: F401`` and a ``lab`` argument
(``from tests.lab_fixture import lab`` works too, but ruff then flags each test's ``lab``
argument as a redefinition, F811). The
lab runs its own salt-master (config dir ``lab.master_dir``), the site minion ``site01``, a
Ganesha on the lab's bridge, and boards jtk1..jtk3 as real salt-minions in network namespaces,
each booted from its own default image ``admin/l4t-base-<board>``. Helpers run the Salt CLI
against that master with argument lists and ``--out=json``; each returns a :class:`Result`. The
lab's own questions (a pillar refresh, a board's ping) are jobs sent from the test process
(tests/salt_clients.py, ``lab.master_conf``), not CLI processes.

Tests that power a board off, inject a fault or change its nfsroot must give it back as they
found it: ``lab.restore(board)`` clears faults, powers it on and waits for its minion
(``wait=False`` where the next test powers the board off first). Whatever a module still left,
``lab.reset()`` gives back when the module is done (its first pillar, no quarantine, every board
on its default image, no fault, up): the ``lab`` fixture is module-scoped over the session's one
``shared_lab`` (tests/integration/conftest.py imports it).

``vm_lab`` (tests/e2e) is a second lab with one process board and the VM board jvm1: a QEMU
machine booting a Debian image (built by the site's ``jetson_rootfs.build``, cached in
/var/cache/jetson-farm) with its root on the lab's NFS.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest

from jetson_lab import client
from jetson_lab.config import SITE_MINION, LabConfig
from tests import salt_clients

BIN = pathlib.Path(sys.executable).parent
# Short paths: unix sockets (the supervisor's, Salt's IPC) are limited to 107 bytes.
LAB_BASE = pathlib.Path(os.environ.get("JETSON_LAB_TEST_BASE", "/var/tmp/jetson-lab-tests"))
LAB_BOARDS = 3
UP_TIMEOUT = 400
BOOT_TIMEOUT = 90
LAB_VM_BOARDS = 1
# A first run on a machine builds the VM boards' image (minutes); TCG boots take minutes too.
VM_UP_TIMEOUT = 2400
VM_DOWN_TIMEOUT = 600  # the purge removes the VM images, ~600 MB trees
VM_PING_WAIT = 60  # a TCG board's freshly started minion takes seconds per job


@dataclass
class Result:
    returncode: int
    data: object
    stdout: str
    stderr: str

    def of(self, minion):
        """What ``minion`` returned (``salt`` output is keyed by minion id)."""
        return self.data.get(minion) if isinstance(self.data, dict) else None


class Lab:
    """The running lab: its folder, config, pillar, boards, and Salt/CLI/power helpers."""

    def __init__(self, lab_dir):
        self.dir = pathlib.Path(lab_dir)
        self.config = LabConfig.read(lab_dir)
        self.master_dir = self.config.master_dir
        self.master_conf = self.master_dir / "master"
        self.site_dir = self.config.site_dir
        self.socket = self.config.socket_path
        self.boards = list(self.config.boards)
        self.vm_boards = list(self.config.vm_boards)
        self.site = SITE_MINION
        self.sites = self.config.site_names
        self.address = self.config.network.bridge_addr
        self.first_pillar = self.pillar  # as the lab came up: what reset() gives back

    # -- Salt ------------------------------------------------------------------------------

    def _run(self, argv, timeout):
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                              check=False)
        try:
            data = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            data = None
        return Result(proc.returncode, data, proc.stdout, proc.stderr)

    def salt(self, args, timeout=180):
        """``salt -c <master dir> --out=json ARGS``; data keyed by minion id (``result.of(id)``).

        Target one minion per call: several minions print several JSON documents (add
        ``--static`` to get one, but salt then exits 0 even when a minion failed).
        """
        return self._run([BIN / "salt", "-c", self.master_dir, "--out=json", *args], timeout)

    def salt_run(self, args, timeout=600):
        """``salt-run -c <master dir> --out=json ARGS``."""
        return self._run([BIN / "salt-run", "-c", self.master_dir, "--out=json", *args], timeout)

    def salt_call_site(self, args, timeout=180, site=SITE_MINION):
        """``salt-call -c <site dir> --out=json ARGS`` on ``site`` (site01); data is its ``local`` return."""
        argv = [BIN / "salt-call", "-c", self.config.minion_dir(site), "--out=json", *args]
        result = self._run(argv, timeout)
        if isinstance(result.data, dict) and "local" in result.data:
            result.data = result.data["local"]
        return result

    def lab_cli(self, args, timeout=120):
        """``jetson-lab ARGS --dir <lab dir>``."""
        return self._run([BIN / "jetson-lab", *args, "--dir", self.dir], timeout)

    # -- pillar ----------------------------------------------------------------------------

    @property
    def pillar(self):
        """The lab's ``jetson`` pillar as written in its jetson.sls (a fresh copy)."""
        return json.loads((self.config.pillar_dir / "jetson.sls").read_text())["jetson"]

    def write_pillar(self, pillar):
        """Replace the ``jetson`` pillar and refresh it on every site."""
        path = self.config.pillar_dir / "jetson.sls"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"jetson": pillar}, indent=1))
        os.replace(tmp, path)
        for site in self.sites:
            salt_clients.answer(self.master_conf, site, "saltutil.refresh_pillar", timeout=180, wait=True)

    # -- boards ----------------------------------------------------------------------------

    def site_of(self, board):
        return self.config.site_of(board)

    def ip(self, board):
        return self.pillar["boards"][board]["ip"]

    def nfsroot(self, board):
        return self.config.nfsroot(board)

    def power(self, board, action):
        return client.power(self.socket, board, action)

    def fault(self, board, name):
        return client.fault(self.socket, board, name)

    def status(self, board):
        return client.power(self.socket, board, "status")

    def pings(self, board):
        proc = subprocess.run(["ping", "-c1", "-W1", "-q", self.ip(board)], capture_output=True,
                              timeout=5, check=False)
        return proc.returncode == 0

    def minion_answers(self, board):
        # One question at a time, with the patience a TCG board needs: a VM board's minion asked
        # every 2 s piles up jobs and then fails to return any of them.
        wait = VM_PING_WAIT if board in self.config.vm_boards else 2
        found = salt_clients.job(self.master_conf, board, "test.ping", timeout=wait).get(board)
        return salt_clients.succeeded(found) and found["ret"] is True

    def nfs_sessions(self, board):
        """Established TCP connections from the board to the lab's NFS port (host view)."""
        proc = subprocess.run(
            ["ss", "-Htn", "state", "established", "dst", self.ip(board),
             "sport", "=", f":{self.config.nfs_port}"],
            capture_output=True, text=True, timeout=10, check=True)
        return [line for line in proc.stdout.splitlines() if line.strip()]

    def wait_for(self, predicate, what, timeout=BOOT_TIMEOUT):
        """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"lab: {what} did not happen within {timeout}s")
            time.sleep(0.5)

    def wait_up(self, board, timeout=BOOT_TIMEOUT):
        """Until the board's minion is ready (supervisor's view) and answers test.ping."""
        self.wait_for(lambda: self.status(board)["minion"] == "ready", f"{board}'s minion starting", timeout)
        self.wait_for(lambda: self.minion_answers(board), f"{board}'s minion answering", timeout)

    def reset(self):
        """Give the lab back as it came up, through its own API: its first pillar, no board
        quarantined, every board on its default image (a release), no fault, powered on and its
        minion answering. Costs a few questions when a module left it so (the rule)."""
        if self.pillar != self.first_pillar:
            self.write_pillar(self.first_pillar)
        status = salt_clients.run(self.master_conf, "jetson.status")
        for board, row in status.items():
            if row.get("state") == "quarantined":
                salt_clients.run(self.master_conf, "jetson.unquarantine", board=board)
        defaults = {board: row["image"] for board, row in self.first_pillar["boards"].items()}
        astray = [b for b in self.boards if (status.get(b) or {}).get("image") != defaults[b]]
        for board in self.boards:
            self.fault(board, "clear")
            if self.status(board)["power"] != "on":
                self.power(board, "on")
        if astray:
            pillar = json.dumps({"boards": astray})
            released = self.salt_run(["state.orch", "jetson.release", f"pillar={pillar}"])
            assert released.returncode == 0, f"lab reset: releasing {astray}: {released.stdout[-3000:]}"
        for board in self.boards:
            self.wait_up(board)

    def restore(self, board, wait=True):
        """Clear the board's faults, power it on and wait for its minion (``wait=False``: where
        the next test powers the board off first, or waits for it itself)."""
        self.fault(board, "clear")
        self.power(board, "on")
        if wait:
            self.wait_up(board)


def _lab_cli(args, timeout):
    return subprocess.run([str(BIN / "jetson-lab"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _bring_up(args, timeout, master_conf=None):
    """A new lab; ``master_conf``: settings its salt-master reads from its first start on (its
    ``master.d/test.conf``, e.g. eauth for a salt-api)."""
    lab_dir = LAB_BASE / uuid.uuid4().hex[:8]
    if master_conf:
        conf = lab_dir / "master" / "master.d" / "test.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text(json.dumps(master_conf))
    proc = _lab_cli(["up", "--dir", lab_dir, *args], timeout)
    if proc.returncode != 0:
        _lab_cli(["down", "--dir", lab_dir, "--purge"], 120)
        pytest.fail(f"jetson-lab up failed: {proc.stdout[-2000:]} {proc.stderr[-4000:]}")
    return Lab(lab_dir)


def _tear_down(lab_dir, timeout=180):
    _lab_cli(["down", "--dir", lab_dir, "--purge"], timeout)
    shutil.rmtree(lab_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_lab():
    """The session's lab, brought up once, for every module that uses ``lab``."""
    lab = _bring_up(["--boards", LAB_BOARDS], UP_TIMEOUT)
    yield lab
    _tear_down(lab.dir)


@pytest.fixture(scope="module", name="lab")
def lab_session(shared_lab):
    """The session's lab for one module; given back as it came up when the module is done
    (:meth:`Lab.reset`), so no module sees what another left."""
    yield shared_lab
    shared_lab.reset()


@pytest.fixture(scope="module")
def vm_lab():
    """A lab whose board jvm1 is a QEMU machine booting Linux over NFS (tests/e2e), left
    off at bring-up: a case boots a board only where it needs one."""
    lab = _bring_up(["--boards", 1, "--vm-boards", LAB_VM_BOARDS, "--vms-off"], VM_UP_TIMEOUT)
    yield lab
    _tear_down(lab.dir, VM_DOWN_TIMEOUT)


lab = lab_session  # the fixture's name as first announced
