"""Crash safety (rule 1): SIGKILL a swap or park at every rename and every injection write, then
reconcile; every image is in exactly one place, intact, with no injected file left when parked.

The child kills itself through the test-only hook ``JETSON_FARM_CRASH_AT=<n>`` (the n-th
crash point it reaches); n runs from 1 until the operation completes without being killed.
"""

import json
import logging
import multiprocessing
import os
import pathlib
import shutil
import signal
import subprocess

import pytest

from jetson_farm import marker
from jetson_farm.errors import UnsafePath
from jetson_farm.rootfs.crash import CRASH_AT, CRASH_TRACE
from tests.conftest import fresh_folder
from tests.unit.test_rootfs_helpers import (
    add_image,
    make_identity,
    make_site,
    manifest,
    not_exported,
)

IMAGES = ("alice/cuda-dev", "alice/other", "admin/l4t-base")

# A SIGKILL loses no page already written: what the crash points test is the order of the renames
# and writes, which a tmpfs keeps as any file system does, while its fsyncs (thousands here) cost
# nothing (the module: 24 s on / and 9 s on a tmpfs, measured back to back).
TMPFS_SCRATCH = pathlib.Path("/dev/shm/jetson-farm-tests")


@pytest.fixture
def farm_dir():
    """The site's root and the boards' nfsroots, on a tmpfs."""
    yield from fresh_folder(TMPFS_SCRATCH)


def _forget_parent_logging():
    """In a forked child: the parent's handlers (pytest's streams, salt-factories' log sockets)
    are not this process's to use."""
    logging.getLogger().handlers.clear()
    logging.disable(logging.CRITICAL)


def _child(pillar, action, crash_at, trace):
    _forget_parent_logging()
    os.environ[CRASH_AT] = str(crash_at)
    os.environ[CRASH_TRACE] = trace
    site = make_site(pillar)
    if action == "swap":
        site.swap("jtk1", "alice/other", switch_id="sw-2", is_exported=not_exported)
    elif action == "swap-empty":
        site.swap("jtk2", "admin/l4t-base", user="alice", switch_id="sw-3", is_exported=not_exported)
    else:
        site.park("jtk1", is_exported=not_exported)


def run_killed_at(pillar, action, crash_at, trace):
    """Run ``action`` in a child that dies at crash point ``crash_at``; True if it was killed."""
    child = multiprocessing.get_context("fork").Process(
        target=_child, args=(pillar, action, crash_at, trace))
    child.start()
    child.join(60)
    assert child.exitcode in (0, -signal.SIGKILL), f"child failed at point {crash_at}: {child.exitcode}"
    return child.exitcode == -signal.SIGKILL


def fresh_farm(pillar):
    site = make_site(pillar)
    site.layout.ensure()
    originals = {}
    for image in IMAGES:
        originals[image] = manifest(add_image(site, image))
    make_identity(site, "jtk1")
    make_identity(site, "jtk2")
    site.swap("jtk1", "alice/cuda-dev", switch_id="sw-1", is_exported=not_exported)
    return site, originals


def assert_rule_one(site):
    """Every image in exactly one place, and the state agrees with the disk."""
    at_boards = {}
    for board in site.boards():
        state = site.load_state(board.name)
        assert state["operation"] is None, state
        if state["image"]:
            assert os.path.isdir(board.nfsroot)
            at_boards[state["image"]] = board.name
        else:
            assert not os.path.exists(board.nfsroot) or os.listdir(board.nfsroot) == []
    for image in IMAGES:
        in_slot = os.path.isdir(site.layout.image_path(image))
        assert in_slot != (image in at_boards), f"{image}: slot={in_slot} boards={at_boards}"
    return at_boards


@pytest.mark.parametrize("action", ["swap", "swap-empty", "park"])
def test_a_crash_at_any_point_is_reconciled(pillar, farm_dir, action):
    trace = str(farm_dir / "trace")
    killed_at = []
    template = farm_dir / "template"
    template.mkdir()
    _, originals = fresh_farm(_pillar_under(pillar, farm_dir, template))
    point = 0
    while True:
        point += 1
        farm = farm_dir / f"run{point}"
        subprocess.run(["cp", "-a", "--", str(template), str(farm)], check=True, timeout=60)
        pillar_run = _pillar_under(pillar, farm_dir, farm)
        site = make_site(pillar_run)
        if os.path.exists(trace):
            os.remove(trace)
        killed = run_killed_at(pillar_run, action, point, trace)
        if killed:
            with open(trace) as handle:
                killed_at.append(handle.read().splitlines()[-1])
        ret = site.reconcile(is_exported=not_exported)
        assert ret["problems"] == [], ret
        at_boards = assert_rule_one(site)
        # The operation was rolled forward: the target is where it was asked to be.
        expected = {"swap": {"alice/other": "jtk1"}, "park": {},
                    "swap-empty": {"alice/cuda-dev": "jtk1", "admin/l4t-base": "jtk2"}}[action]
        assert at_boards == expected, (point, killed_at[-1:], at_boards)
        for image, board in at_boards.items():
            assert marker.read_marker(site.board(board).nfsroot)["image"] == image
        for board in ("jtk1", "jtk2"):
            site.park(board, is_exported=not_exported)
        for image in IMAGES:
            assert manifest(site.layout.image_path(image)) == originals[image], (point, killed_at[-1:], image)
        shutil.rmtree(farm)
        if not killed:
            break
    names = set(killed_at)
    renames = {"swap": {"rename:park-current", "rename:move-target", "renamed:park-current",
                        "renamed:move-target"},
               "swap-empty": {"rename:move-target", "renamed:move-target"},
               "park": {"rename:park-current", "renamed:park-current"}}[action]
    assert renames <= names
    if action != "park":
        assert f"inject-write:{marker.HOSTNAME}" in names and f"injected:{marker.MARKER}" in names
    if action != "swap-empty":
        assert f"restore:{marker.AUTHORIZED_KEYS}" in names


def _pillar_under(pillar, old, new):
    """``pillar`` with its root and nfsroots moved from folder ``old`` to ``new``."""
    return json.loads(json.dumps(pillar).replace(str(old), str(new)))


def test_an_injection_made_impossible_after_a_crash_is_rolled_back(pillar, farm_dir):
    site, originals = fresh_farm(pillar)
    assert run_killed_at(pillar, "swap", f"inject-write:{marker.HOSTNAME}", str(farm_dir / "t"))
    # Before reconcile runs, the rootfs turns hostile: etc/salt becomes a link out of it.
    nfsroot = site.board("jtk1").nfsroot
    host = farm_dir / "host-etc"
    host.mkdir()
    os.rename(os.path.join(nfsroot, "etc/salt"), farm_dir / "moved-salt")
    os.symlink(str(host), os.path.join(nfsroot, "etc/salt"))
    ret = site.reconcile(is_exported=not_exported)
    entry = ret["boards"]["jtk1"]
    assert entry["outcome"] == "rolled back" and "UnsafePath" in entry["error"]
    assert os.listdir(host) == []
    assert site.load_state("jtk1")["image"] is None
    assert os.listdir(nfsroot) == []
    slot = site.layout.image_path("alice/other")
    assert os.readlink(os.path.join(slot, "etc/salt")) == str(host)
    assert not os.path.exists(os.path.join(slot, marker.HOSTNAME + ".jetson-farm-tmp"))
    assert open(os.path.join(slot, marker.HOSTNAME)).read() == "ubuntu\n"
    assert manifest(site.layout.image_path("alice/cuda-dev")) == originals["alice/cuda-dev"]
    with pytest.raises(UnsafePath, match="etc/salt is a symlink"):
        site.swap("jtk1", "alice/other", is_exported=not_exported)


def _swap_child(pillar, board, results):
    _forget_parent_logging()
    try:
        make_site(pillar).swap(board, "alice/other", is_exported=not_exported)
        results.put((board, "ok"))
    except Exception as err:  # the refusal is the expected outcome for one of the two
        results.put((board, str(err)))


def test_two_boards_racing_for_one_image_get_it_once(pillar):
    site, _ = fresh_farm(pillar)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [context.Process(target=_swap_child, args=(pillar, board, results))
                for board in ("jtk1", "jtk2")]
    for child in children:
        child.start()
    outcomes = dict(results.get(timeout=60) for _ in children)
    for child in children:
        child.join(60)
    winners = [board for board, outcome in outcomes.items() if outcome == "ok"]
    assert len(winners) == 1, outcomes
    loser = "jtk2" if winners == ["jtk1"] else "jtk1"
    assert "alice/other" in outcomes[loser] and ("park it there first" in outcomes[loser]
                                                 or "is busy" in outcomes[loser]), outcomes
    assert assert_rule_one(site)["alice/other"] == winners[0]
