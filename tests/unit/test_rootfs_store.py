"""Reading the store, remove with its refusals, bookings, clone, and reconcile's sweep."""

import datetime
import os

import pytest

from jetson_farm.errors import JetsonError, NotFound, Refused
from jetson_farm.rootfs import fsutil
from tests.unit.test_rootfs_helpers import (
    add_image,
    make_identity,
    make_site,
    manifest,
    not_exported,
)


@pytest.fixture
def site(pillar):
    pillar["users"]["bob"]["quota_gb"] = 0.00001  # about 10 kB: bob is over quota
    site = make_site(pillar)
    site.layout.ensure()
    for image in ("alice/cuda-dev", "alice/other", "bob/private"):
        add_image(site, image)
    make_identity(site, "jtk1")
    return site


def booking(image="alice/other", board="jtk2", user="alice", days=1):
    start = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    end = start + datetime.timedelta(hours=9)
    return {"image": image, "board": board, "user": user, "start": start.isoformat(),
            "end": end.isoformat()}


def test_list_info_and_usage_say_where_each_image_is(site):
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    listed = {i["image"]: (i["where"], i["board"]) for i in site.list_images()}
    assert listed == {"alice/cuda-dev": ("board", "jtk1"), "alice/other": ("store", None),
                      "bob/private": ("store", None)}
    assert [i["image"] for i in site.list_images("bob")] == ["bob/private"]
    info = site.info("alice/cuda-dev")
    assert (info["owner"], info["where"], info["board"], info["path"]) == \
        ("alice", "board", "jtk1", site.board("jtk1").nfsroot)
    assert info["size_bytes"] > 0
    usage = site.usage()
    assert usage["alice"]["images"] == 2 and usage["alice"]["over_quota"] is False
    assert usage["alice"]["bytes"] == sum(fsutil.tree_bytes(i["path"]) for i in site.list_images("alice"))
    assert usage["bob"]["over_quota"] is True and usage["bob"]["quota_bytes"] == 10737
    assert usage["admin"] == {"bytes": 0, "images": 0, "quota_gb": 0, "quota_bytes": 0, "over_quota": False}
    assert list(site.usage("bob")) == ["bob"]


def test_info_of_a_missing_image_says_so(site):
    with pytest.raises(NotFound, match=r"image alice/nope does not exist: not in the store \(.*\) nor"):
        site.info("alice/nope")


def test_state_reports_an_interrupted_operation(site):
    state = site.load_state("jtk1")
    state["operation"] = {"kind": "swap", "phase": "move-target", "current": None,
                          "target": "alice/other", "user": "alice", "switch_id": "s",
                          "final": {"image": "alice/other", "user": "alice", "switch_id": "s"}}
    site.save_state("jtk1", state)
    reported = site.state("jtk1")
    assert reported["interrupted"] is True and reported["busy"] is False
    assert reported["operation"]["phase"] == "move-target"
    assert set(site.state()) == {"jtk1", "jtk2"}
    with pytest.raises(Refused, match="image alice/other is part of an interrupted switch of board jtk1"):
        site.remove("alice/other")
    done = site.reconcile(is_exported=not_exported)
    assert done["boards"]["jtk1"]["outcome"] == "finished"
    assert site.state("jtk1")["image"] == "alice/other"


def test_remove_refuses_an_image_at_an_nfsroot_or_booked(site):
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    with pytest.raises(Refused, match="image alice/cuda-dev is at the nfsroot of board jtk1: park it first"):
        site.remove("alice/cuda-dev")
    assert site.set_bookings([booking()]) == {"bookings": 1, "changed": True}
    assert site.set_bookings([booking()])["bookings"] == 1
    with pytest.raises(Refused, match=r"image alice/other is booked by alice on board jtk2 from .* to "):
        site.remove("alice/other")
    assert os.path.isdir(site.layout.image_path("alice/other"))
    # A booking that has ended no longer holds the image.
    site.set_bookings([booking(days=-2)])
    assert site.remove("alice/other")["removed"] is True
    assert not os.path.exists(site.layout.image_path("alice/other"))
    with pytest.raises(NotFound, match="image alice/other does not exist"):
        site.remove("alice/other")


@pytest.mark.parametrize(("bookings", "message"), [
    ("not a list", "bookings must be a list"),
    ([{"image": "alice/x"}], r"bookings\[0\] must have the keys image, board, user, start, end"),
    ([dict(booking(), image="alice/../x")], r"bookings\[0\]: invalid image 'alice/../x'"),
    ([booking(), dict(booking(), board="jtk 1")], r"bookings\[1\]: invalid board name 'jtk 1'"),
    ([dict(booking(), start="tuesday")], r"bookings\[0\].start: 'tuesday' is not an ISO 8601 time"),
    ([dict(booking(), end="2000-01-01T00:00:00+00:00")], r"bookings\[0\]: it ends .* before it starts"),
])
def test_bad_bookings_are_refused_as_a_whole(site, bookings, message):
    site.set_bookings([booking()])
    with pytest.raises(JetsonError, match=message):
        site.set_bookings(bookings)
    saved = fsutil.read_json(os.path.join(site.layout.state_dir, "bookings.json"))
    assert len(saved) == 1


def test_clone_copies_a_parked_image_and_refuses_one_at_an_nfsroot(site):
    ret = site.clone("alice/other", "bob/copy")
    assert ret["image"] == "bob/copy"
    assert manifest(site.layout.image_path("bob/copy")) == manifest(site.layout.image_path("alice/other"))
    assert [n for n in os.listdir(site.layout.images_dir) if n.startswith(".")] == []
    with pytest.raises(JetsonError, match="image bob/copy already exists"):
        site.clone("alice/other", "bob/copy")
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    with pytest.raises(Refused, match="image alice/cuda-dev is at the nfsroot of board jtk1 with its"):
        site.clone("alice/cuda-dev", "bob/stolen-keys")
    with pytest.raises(NotFound, match="image alice/nope does not exist in the store"):
        site.clone("alice/nope", "bob/x")
    assert not os.path.exists(site.layout.image_path("bob/stolen-keys"))


def test_reconcile_sweeps_orphaned_staging_but_not_a_live_one(site):
    orphan = os.path.join(site.layout.images_dir, ".staging-deadbeef")
    os.makedirs(os.path.join(orphan, "etc"))
    with fsutil.staging_dir(site.layout.images_dir) as live:
        ret = site.reconcile(is_exported=not_exported)
        assert ret["swept"] == [".staging-deadbeef"]
        assert os.path.isdir(live)
    assert not os.path.exists(orphan)
    assert ret["problems"] == []


def test_reconcile_reports_a_state_that_does_not_match_the_disk(site):
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    os.rename(site.board("jtk1").nfsroot, site.layout.image_path("alice/cuda-dev"))  # by hand
    ret = site.reconcile(is_exported=not_exported)
    assert any("the state says alice/cuda-dev is at" in p for p in ret["problems"])
    assert any("its store slot exists too" in p for p in ret["problems"])


def test_reconcile_leaves_an_interrupted_board_alone_while_it_is_exported(site):
    state = site.load_state("jtk1")
    state["operation"] = {"kind": "park", "phase": "restore", "current": "alice/cuda-dev",
                          "target": None, "user": None, "switch_id": None,
                          "final": {"image": None, "user": None, "switch_id": None}}
    site.save_state("jtk1", state)
    os.rename(site.layout.image_path("alice/cuda-dev"), site.board("jtk1").nfsroot)
    ret = site.reconcile(is_exported=lambda board: board == "jtk1")
    assert ret["boards"]["jtk1"]["action"] == "skipped"
    assert "board jtk1 has an interrupted park but its nfsroot" in ret["boards"]["jtk1"]["error"]
    assert os.path.isdir(site.board("jtk1").nfsroot)
    assert site.reconcile(is_exported=not_exported)["boards"]["jtk1"]["outcome"] == "finished"
    assert os.path.isdir(site.layout.image_path("alice/cuda-dev"))
