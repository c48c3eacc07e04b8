"""Boards booting copies of one shared image, on the session's lab (tests/lab_fixture.py).

Shared images are templates (docs/architecture.md, "The site server"): one orchestration
switches jtk1..jtk3 to ``admin/l4t-base``, each for another user, so each board runs that
user's own working copy, cloned first by the site (a clone phase before the lease, with its
events), while the template stays untouched in the store. ``jetson.status`` and
``jetson.images`` tell templates from working copies. The lab's store is on the machine's own
file system (ext4 here: full copies); the reflink path is proven on loop-mounted btrfs and XFS
in tests/functional/test_clone_fs.py.

Twelve boards in one run, one that never boots, a copy that exists and a template the site
does not hold run in seconds in the engine tier (tests/functional/test_engine_many.py).
"""

import os

import pytest

from tests.lab_fixture import lab  # noqa: F401
from tests.switch_helpers import EventWatch, markers, orchestrate, site_job, states_of, where_images
from tests.unit.test_rootfs_helpers import manifest

TEMPLATE = "admin/l4t-base"


@pytest.fixture
def copies(lab):  # noqa: F811
    """The lab with one user per board; afterwards the boards released, the copies removed and
    the pillar given back."""
    users = {board: f"user{board[3:]}" for board in lab.boards}  # jtk1 -> user1 ...
    saved = lab.pillar
    pillar = lab.pillar
    for user in users.values():
        pillar["users"][user] = {"email": f"{user}@example.org", "quota_gb": 1}
    lab.write_pillar(pillar)
    yield lab, users
    released = orchestrate(lab, "jetson.release", {"boards": list(users)})
    assert released.returncode == 0, released.stdout[-3000:]
    for user in users.values():
        site_job(lab, lab.site, ("jetson_rootfs.remove", f"{user}/l4t-base"))
    lab.write_pillar(saved)


def template_path(rig):
    return os.path.join(rig.pillar["sites"][rig.site]["root"], "images", TEMPLATE)


def test_boards_boot_their_own_copies_of_one_template_at_once(copies):
    rig, users = copies
    before = manifest(template_path(rig))
    watch = EventWatch(rig)
    try:
        ret = orchestrate(rig, "jetson.switch",
                          {"boards": {b: {"image": TEMPLATE, "user": user} for b, user in users.items()}})
    finally:
        watch.close()
    assert ret.returncode == 0, ret.stdout[-3000:]
    journals, seen = states_of(rig, list(users)), markers(rig, list(users))
    for board, user in users.items():
        copy = f"{user}/l4t-base"
        assert f"{board}: ok: up on {copy} for {user}" in ret.stdout
        assert (journals[board] or {}).get("image") == copy, f"{board}'s journal: {journals[board]}"
        assert (seen[board] or {}).get("image") == copy, f"{board}'s marker: {seen[board]}"
        clone = watch.data(f"jetson/switch/{board}/clone")
        assert [c["result"] for c in clone] == ["started", "ok"], clone
        assert (clone[-1]["image"], clone[-1]["template"], clone[-1]["made"]) == (copy, TEMPLATE, True)
        progress = watch.data(f"jetson/image/copy/{copy}")[-1]["data"]  # the site's event.send
        assert (progress["board"], progress["percent"]) == (board, 100.0)
        # The copy came before anything touched the board.
        tags = watch.tags(f"jetson/switch/{board}/")
        assert tags.index(f"jetson/switch/{board}/clone") < tags.index(f"jetson/switch/{board}/lease") \
            < tags.index(f"jetson/switch/{board}/stop")
    assert manifest(template_path(rig)) == before
    places = where_images(rig)
    assert places[TEMPLATE] == ["store"]
    assert {image: where for image, where in places.items() if len(where) != 1} == {}
    status = rig.salt_run(["jetson.status"]).data
    for board in users:
        assert (status[board]["image_kind"], status[board]["template"]) == ("working copy", TEMPLATE)
    images = rig.salt_run(["jetson.images"]).data[rig.site]
    assert images[TEMPLATE]["kind"] == "template"
    assert images["user3/l4t-base"]["template"] == TEMPLATE and images["user3/l4t-base"]["board"] == "jtk3"
