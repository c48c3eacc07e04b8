"""Twelve boards switched in one run by the one-process engine, one of which never boots: the
eleven others are up on their images, the faulty one is rolled back and quarantined.

This module brings up its own lab of 12 boards (the session's lab has 3).
"""

import shutil
import uuid

import pytest

from tests.lab_fixture import LAB_BASE, UP_TIMEOUT, Lab, _lab_cli
from tests.switch_helpers import EventWatch, marker, orchestrate, prepared, sessions, state_of, where_images

BOARDS = [f"jtk{i}" for i in range(1, 13)]
FAULTY = "jtk7"


@pytest.fixture(scope="module")
def big_lab():
    lab_dir = LAB_BASE / f"many-{uuid.uuid4().hex[:6]}"
    proc = _lab_cli(["up", "--dir", lab_dir, "--boards", len(BOARDS)], 2 * UP_TIMEOUT)
    try:
        if proc.returncode != 0:
            pytest.fail(f"jetson-lab up failed: {proc.stdout[-2000:]} {proc.stderr[-4000:]}")
        lab = prepared(Lab(lab_dir))
        for board in BOARDS:
            clone = lab.salt_call_site(["jetson_rootfs.clone", "alice/cuda-dev", f"alice/many-{board}"],
                                       timeout=300)
            assert clone.returncode == 0, clone
        yield lab
    finally:
        _lab_cli(["down", "--dir", lab_dir, "--purge"], 300)
        shutil.rmtree(lab_dir, ignore_errors=True)


def test_twelve_boards_in_one_run_one_never_boots(big_lab):
    lab = big_lab
    pillar = lab.pillar
    pillar["boards"][FAULTY]["boot_timeout"] = 20
    lab.write_pillar(pillar)
    lab.fault(FAULTY, "no_boot")
    watch = EventWatch(lab)
    try:
        ret = orchestrate(lab, "jetson.switch", {"boards": {b: f"alice/many-{b}" for b in BOARDS}})
    finally:
        watch.close()
        lab.fault(FAULTY, "clear")
    assert ret.returncode != 0
    assert f"{FAULTY}: FAILED: {FAULTY} did not come back on alice/many-{FAULTY} within 20s" in ret.stdout
    for board in BOARDS:
        if board == FAULTY:
            continue
        assert f"{board}: ok: up on alice/many-{board} for alice" in ret.stdout
        assert state_of(lab, board)["image"] == f"alice/many-{board}"
        assert marker(lab, board)["image"] == f"alice/many-{board}"
        assert sessions(lab, board)[-1]["outcome"] == "active"
        assert f"jetson/board/{board}/ready" in watch.tags()
    # The faulty board: its previous image back, the user's image safe in its slot, quarantined.
    assert state_of(lab, FAULTY)["image"] == f"admin/l4t-base-{FAULTY}"
    assert where_images(lab)[f"alice/many-{FAULTY}"] == ["store"]
    assert sessions(lab, FAULTY)[-1]["outcome"] == "failed"
    assert f"jetson/switch/{FAULTY}/rollback" in watch.tags()
    failed = watch.data(f"jetson/board/{FAULTY}/failed")[-1]
    assert failed["step"] == "verify" and f"rolled back to admin/l4t-base-{FAULTY}" in failed["reason"]
    assert f"jetson/board/{FAULTY}/ready" not in watch.tags()
    assert lab.salt_run(["jetson.status"]).data[FAULTY]["state"] == "quarantined"
    places = where_images(lab)
    assert {image: where for image, where in places.items() if len(where) != 1} == {}
