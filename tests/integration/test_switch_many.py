"""Many boards switched in one run by the one-process engine, on one lab of 12 boards of its own
(``many_board_lab``; the session's lab has 3), brought up once for the module.

Twelve boards, one of which never boots: the eleven others are up on their images, the faulty
one is rolled back and quarantined.

Ten boards boot copies of one shared image at once (docs/architecture.md, "The site server":
shared images are templates). One orchestration switches jtk1..jtk10 to ``admin/l4t-base``, each
for another user: each board runs that user's own working copy, cloned first by the site (a
clone phase before the lease, with its events), while the template stays untouched in the
store. A copy that exists is used as is; a template the site does not hold fails its board
alone. ``jetson.status`` and ``jetson.images`` tell templates from working copies. The lab's
store is on the machine's own file system (ext4 here: full copies); the reflink path is proven
on loop-mounted btrfs and XFS in tests/functional/test_clone_fs.py.

Either story runs on whatever images the other left on the boards (a switch takes a board from
any image): each gives back what it changed (pillar, faults, quarantine) and makes what it needs.
"""

import os

import pytest

from tests.lab_fixture import LAB_MANY_BOARDS, many_board_lab  # noqa: F401
from tests.switch_helpers import (
    EventWatch,
    clone_images,
    last_sessions,
    markers,
    orchestrate,
    state_of,
    states_of,
    where_images,
)
from tests.unit.test_rootfs_helpers import manifest

BOARDS = [f"jtk{i}" for i in range(1, LAB_MANY_BOARDS + 1)]
FAULTY = "jtk7"
COPY_BOARDS = BOARDS[:10]
TEMPLATE = "admin/l4t-base"
USERS = {board: f"user{board[3:]}" for board in COPY_BOARDS}  # jtk1 -> user1 ...


@pytest.fixture(scope="module")
def lab(many_board_lab):  # noqa: F811
    """The 12-board lab, with the copies' users and a shared image no site holds."""
    lab = many_board_lab
    pillar = lab.pillar
    for user in USERS.values():
        pillar["users"][user] = {"email": f"{user}@example.org", "quota_gb": 1}
    pillar["images"]["admin/ghost"] = {"shared": True}
    lab.write_pillar(pillar)
    return lab


@pytest.fixture
def own_images(lab):
    """alice's own image for each board (clones of alice/cuda-dev), made where missing."""
    present = where_images(lab)
    missing = [f"alice/many-{board}" for board in BOARDS if f"alice/many-{board}" not in present]
    clone_images(lab, [("alice/cuda-dev", image) for image in missing])


@pytest.fixture
def faulty(lab):
    """FAULTY never boots (fault no_boot, boot_timeout 20 s); afterwards its pillar, its boot and
    no quarantine are given back."""
    original = lab.pillar
    pillar = lab.pillar
    pillar["boards"][FAULTY]["boot_timeout"] = 20
    lab.write_pillar(pillar)
    lab.fault(FAULTY, "no_boot")
    yield FAULTY
    lab.write_pillar(original)
    lab.restore(FAULTY)
    lifted = lab.salt_run(["jetson.unquarantine", f"board={FAULTY}"])
    assert lifted.returncode == 0, lifted


def test_twelve_boards_in_one_run_one_never_boots(lab, own_images, faulty):
    previous = state_of(lab, FAULTY)["image"]
    watch = EventWatch(lab)
    try:
        ret = orchestrate(lab, "jetson.switch", {"boards": {b: f"alice/many-{b}" for b in BOARDS}})
    finally:
        watch.close()
        lab.fault(FAULTY, "clear")
    assert ret.returncode != 0
    assert f"{FAULTY}: FAILED: {FAULTY} did not come back on alice/many-{FAULTY} within 20s" in ret.stdout
    others = [board for board in BOARDS if board != FAULTY]
    journals, seen, last = states_of(lab, BOARDS), markers(lab, others), last_sessions(lab, BOARDS)
    for board in others:
        mine = f"alice/many-{board}"
        assert f"{board}: ok: up on {mine} for alice" in ret.stdout
        assert (journals[board] or {}).get("image") == mine, f"{board}'s journal: {journals[board]}"
        assert (seen[board] or {}).get("image") == mine, f"{board}'s marker: {seen[board]}"
        assert (last[board] or {}).get("outcome") == "active", f"{board}'s last session: {last[board]}"
        assert f"jetson/board/{board}/ready" in watch.tags()
    # The faulty board: its previous image back, the user's image safe in its slot, quarantined.
    assert journals[FAULTY]["image"] == previous
    places = where_images(lab)
    assert places[f"alice/many-{FAULTY}"] == ["store"]
    assert last[FAULTY]["outcome"] == "failed"
    assert f"jetson/switch/{FAULTY}/rollback" in watch.tags()
    failed = watch.data(f"jetson/board/{FAULTY}/failed")[-1]
    assert failed["step"] == "verify" and f"rolled back to {previous}" in failed["reason"]
    assert f"jetson/board/{FAULTY}/ready" not in watch.tags()
    assert lab.salt_run(["jetson.status"]).data[FAULTY]["state"] == "quarantined"
    assert {image: where for image, where in places.items() if len(where) != 1} == {}


def template_path(lab):
    return os.path.join(lab.pillar["sites"]["site01"]["root"], "images", TEMPLATE)


def test_ten_boards_boot_their_own_copies_of_one_template_at_once(lab):
    before = manifest(template_path(lab))
    watch = EventWatch(lab)
    try:
        ret = orchestrate(lab, "jetson.switch",
                          {"boards": {b: {"image": TEMPLATE, "user": USERS[b]} for b in COPY_BOARDS}})
    finally:
        watch.close()
    assert ret.returncode == 0, ret.stdout[-3000:]
    journals, seen = states_of(lab, COPY_BOARDS), markers(lab, COPY_BOARDS)
    for board in COPY_BOARDS:
        copy = f"{USERS[board]}/l4t-base"
        assert f"{board}: ok: up on {copy} for {USERS[board]}" in ret.stdout
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
    assert manifest(template_path(lab)) == before
    places = where_images(lab)
    assert places[TEMPLATE] == ["store"]
    assert {image: where for image, where in places.items() if len(where) != 1} == {}
    status = lab.salt_run(["jetson.status"]).data
    for board in COPY_BOARDS:
        assert (status[board]["image_kind"], status[board]["template"]) == ("working copy", TEMPLATE)
    images = lab.salt_run(["jetson.images"]).data["site01"]
    assert images[TEMPLATE]["kind"] == "template"
    assert images["user3/l4t-base"]["template"] == TEMPLATE and images["user3/l4t-base"]["board"] == "jtk3"


def test_a_copy_that_exists_is_used_as_is_and_a_missing_template_fails_its_board_alone(lab):
    if "user2/l4t-base" not in where_images(lab):  # run alone: the copy the test above made
        clone_images(lab, [(TEMPLATE, "user2/l4t-base")])
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
