"""Ten boards boot copies of one shared image at once (docs/architecture.md, "The site server":
shared images are templates). One orchestration switches jtk1..jtk10 to ``admin/l4t-base``, each
for another user: each board runs that user's own working copy, cloned first by the site (a
clone phase before the lease, with its events), while the template stays untouched in the
store. A copy that exists is used as is; a template the site does not hold fails its board
alone. ``jetson.status`` and ``jetson.images`` tell templates from working copies.

This module brings up its own lab of 10 boards (the session's lab has 3). The lab's store is on
the machine's own file system (ext4 here: full copies); the reflink path is proven on loop-mounted
btrfs and XFS in tests/functional/test_clone_fs.py.
"""

import os
import shutil
import uuid

import pytest

from tests.lab_fixture import LAB_BASE, UP_TIMEOUT, Lab, _lab_cli
from tests.switch_helpers import EventWatch, marker, orchestrate, prepared, state_of, where_images
from tests.unit.test_rootfs_helpers import manifest

BOARDS = [f"jtk{i}" for i in range(1, 11)]
TEMPLATE = "admin/l4t-base"
USERS = {board: f"user{board[3:]}" for board in BOARDS}  # jtk1 -> user1 ...


@pytest.fixture(scope="module")
def lab():
    lab_dir = LAB_BASE / f"copies-{uuid.uuid4().hex[:6]}"
    proc = _lab_cli(["up", "--dir", lab_dir, "--boards", len(BOARDS)], 2 * UP_TIMEOUT)
    try:
        if proc.returncode != 0:
            pytest.fail(f"jetson-lab up failed: {proc.stdout[-2000:]} {proc.stderr[-4000:]}")
        lab = prepared(Lab(lab_dir))
        pillar = lab.pillar
        for user in USERS.values():
            pillar["users"][user] = {"email": f"{user}@example.org", "quota_gb": 1}
        pillar["images"]["admin/ghost"] = {"shared": True}  # shared, but the site holds no such image
        lab.write_pillar(pillar)
        yield lab
    finally:
        _lab_cli(["down", "--dir", lab_dir, "--purge"], 300)
        shutil.rmtree(lab_dir, ignore_errors=True)


def template_path(lab):
    return os.path.join(lab.pillar["sites"]["site01"]["root"], "images", TEMPLATE)


def test_ten_boards_boot_their_own_copies_of_one_template_at_once(lab):
    before = manifest(template_path(lab))
    watch = EventWatch(lab)
    try:
        ret = orchestrate(lab, "jetson.switch",
                          {"boards": {b: {"image": TEMPLATE, "user": USERS[b]} for b in BOARDS}})
    finally:
        watch.close()
    assert ret.returncode == 0, ret.stdout[-3000:]
    for board in BOARDS:
        copy = f"{USERS[board]}/l4t-base"
        assert f"{board}: ok: up on {copy} for {USERS[board]}" in ret.stdout
        assert state_of(lab, board)["image"] == copy
        assert marker(lab, board)["image"] == copy
        clone = watch.data(f"jetson/switch/{board}/clone")
        assert [c["result"] for c in clone] == ["started", "ok"], clone
        assert (clone[-1]["image"], clone[-1]["template"], clone[-1]["made"]) == (copy, TEMPLATE, True)
        progress = watch.data(f"jetson/image/copy/{copy}")[-1]["data"]  # the site's event.send
        assert (progress["board"], progress["percent"]) == (board, 100.0)
        # The copy came before anything touched the board.
        tags = watch.tags(f"jetson/switch/{board}/")
        assert tags.index(f"jetson/switch/{board}/clone") < tags.index(f"jetson/switch/{board}/lease") \
            < tags.index(f"jetson/switch/{board}/stop")
    assert manifest(template_path(lab)) == before
    places = where_images(lab)
    assert places[TEMPLATE] == ["store"]
    assert {image: where for image, where in places.items() if len(where) != 1} == {}
    status = lab.salt_run(["jetson.status"]).data
    for board in BOARDS:
        assert (status[board]["image_kind"], status[board]["template"]) == ("working copy", TEMPLATE)
    images = lab.salt_run(["jetson.images"]).data["site01"]
    assert images[TEMPLATE]["kind"] == "template"
    assert images["user3/l4t-base"]["template"] == TEMPLATE and images["user3/l4t-base"]["board"] == "jtk3"


def test_a_copy_that_exists_is_used_as_is_and_a_missing_template_fails_its_board_alone(lab):
    released = orchestrate(lab, "jetson.release", {"boards": ["jtk2", "jtk3"]})
    assert released.returncode == 0, released.stdout[-2000:]
    assert where_images(lab)["user2/l4t-base"] == ["store"]
    watch = EventWatch(lab)
    try:
        ret = orchestrate(lab, "jetson.switch", {"boards": {
            "jtk2": {"image": TEMPLATE, "user": "user2"}, "jtk3": {"image": "admin/ghost", "user": "user3"}}})
    finally:
        watch.close()
    assert ret.returncode != 0
    assert "jtk2: ok: up on user2/l4t-base for user2" in ret.stdout
    assert watch.data("jetson/switch/jtk2/clone")[-1]["made"] is False
    assert ("jtk3: FAILED: jtk3: refused: no working copy user3/ghost of the template "
            "admin/ghost") in ret.stdout
    assert "image admin/ghost does not exist" in ret.stdout
    assert "jetson/switch/jtk3/stop" not in watch.tags()  # the board was never touched
    assert state_of(lab, "jtk3")["image"] == "admin/l4t-base-jtk3"
