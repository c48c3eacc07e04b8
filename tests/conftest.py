"""Fixtures shared by every tier: the repository's paths and a farm's inventory on disk."""

import copy
import logging
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

# Salt's log handlers outlive the streams pytest closes at the end of the run: without this, each
# prints a "Logging error" traceback after the summary line.
logging.raiseExceptions = False

REPO = pathlib.Path(__file__).resolve().parent.parent
SALT_DIR = REPO / "salt"
FIXTURES = REPO / "tests" / "fixtures"

# A scratch area on the same file system as nothing special: / on this machine. /tmp may be a
# tmpfs elsewhere, and the store and nfsroots must share one file system, so keep them together.
SCRATCH = pathlib.Path(os.environ.get("JETSON_TEST_SCRATCH", "/var/tmp/jetson-farm-tests"))

SSH_KEY_ALICE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAliceAliceAliceAliceAliceAliceAliceAlice0 alice@laptop"
SSH_KEY_BOB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBobBobBobBobBobBobBobBobBobBobBobBobBob00 bob@laptop"


TIERS = {"integration": REPO / "tests" / "integration", "e2e": REPO / "tests" / "e2e"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark every test by its tier folder, so ``-m "not integration"`` deselects that tier.

    (A ``pytestmark`` in a conftest.py marks nothing: pytest reads it from test modules only.)
    """
    for item in items:
        for marker, folder in TIERS.items():
            if item.path.is_relative_to(folder):
                item.add_marker(marker)


_TIER_SECONDS = {}  # tier folder -> seconds its tests took, setup and teardown included


def _tier_of(path):
    relative = pathlib.Path(path).resolve().relative_to(REPO / "tests")
    return relative.parts[0] if len(relative.parts) > 1 else "tests"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    started = time.monotonic()
    yield
    tier = _tier_of(item.path)
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + time.monotonic() - started


def pytest_terminal_summary(terminalreporter):
    """One line per tier with its wall time, so every CI log shows where the time goes."""
    if not _TIER_SECONDS:
        return
    terminalreporter.section("time per tier")
    for tier in ("unit", "functional", "integration", "e2e"):
        if tier in _TIER_SECONDS:
            seconds = _TIER_SECONDS.pop(tier)
            terminalreporter.write_line(f"{tier:<12} {seconds / 60:5.1f} min ({seconds:.0f} s)")
    for tier, seconds in sorted(_TIER_SECONDS.items()):
        terminalreporter.write_line(f"{tier:<12} {seconds / 60:5.1f} min ({seconds:.0f} s)")


def unexport_under(folder):
    """Withdraw every kernel NFS export of a path under ``folder``, from every client (a test's
    teardown: each nfsroot is exported to its own board's ip)."""
    from jetson_farm.nfs.common import read_text
    from jetson_farm.nfs.kernel import ETAB, parse_etab

    for path, clients in parse_etab(read_text(ETAB)).items():
        if path.startswith(f"{folder}/"):
            for client in clients:
                subprocess.run(["exportfs", "-u", f"{client}:{path}"], capture_output=True, timeout=30,
                               check=False)


def fresh_folder(scratch=SCRATCH):
    """A fixture's body: a fresh folder under ``scratch``, removed afterwards."""
    path = scratch / uuid.uuid4().hex[:10]
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def farm_dir():
    """A fresh folder holding a site's root and the boards' nfsroots, on one file system."""
    yield from fresh_folder()


def make_pillar(farm_dir, boards=("jtk1", "jtk2"), backend="kernel", **site_nfs):
    """A valid ``jetson`` pillar for one site whose root and nfsroots are under ``farm_dir``."""
    farm_dir = pathlib.Path(farm_dir)
    nfs = {"backend": backend, "network": "127.0.0.0/8",
           "options": ["rw", "insecure", "no_subtree_check", "async", "no_root_squash"]}
    nfs.update(site_nfs)
    pillar = {
        "master": "127.0.0.1",
        "timezone": "Europe/Paris",
        "sites": {"site01": {"minion": "site01", "root": str(farm_dir / "root"), "nfs": nfs}},
        "defaults": {"image": "admin/l4t-base", "boot_timeout": 60, "down_timeout": 10,
                     "power": {"driver": "lab", "socket": str(farm_dir / "lab.sock")}},
        "boards": {},
        "users": {
            "admin": {"email": "admin@example.org", "admin": True},
            "alice": {"email": "alice@example.org", "ssh_keys": [SSH_KEY_ALICE], "quota_gb": 50},
            "bob": {"email": "bob@example.org", "ssh_keys": [SSH_KEY_BOB], "quota_gb": 1},
        },
        "images": {"admin/l4t-base": {"shared": True}},
    }
    for i, board in enumerate(boards, start=1):
        pillar["boards"][board] = {
            "site": "site01",
            "minion": board,
            "ip": f"127.0.{10 + i}.1",
            "mac": f"00:04:4b:00:00:{i:02x}",
            "nfsroot": str(farm_dir / f"NFSRoot{i}"),
            "netmask": "255.255.255.0",
            "gateway": "192.168.137.1",
            "flash": {"target": "jetson-tk1", "iface": "eth0"},
        }
    return pillar


@pytest.fixture
def pillar(farm_dir):
    """The ``jetson`` pillar of a two-board farm under ``farm_dir`` (a deep copy per test)."""
    return copy.deepcopy(make_pillar(farm_dir))
