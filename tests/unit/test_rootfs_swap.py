"""swap and park: renames, journal, reversible injection, idempotence, refusals."""

import json
import os
import shutil
import stat
import uuid

import pytest
import yaml

from jetson_farm import marker
from jetson_farm.errors import CrossDevice, InvalidName, JetsonError, NotAllowed, NotFound, Refused
from tests.conftest import SSH_KEY_ALICE, SSH_KEY_BOB
from tests.unit.test_rootfs_helpers import (
    add_image,
    make_identity,
    make_site,
    manifest,
    not_exported,
)


@pytest.fixture
def site(pillar):
    pillar["images"]["bob/shared"] = {"shared": ["alice"]}
    site = make_site(pillar)
    site.layout.ensure()
    for image in ("alice/cuda-dev", "alice/other", "bob/private", "bob/shared", "admin/l4t-base"):
        add_image(site, image)
    make_identity(site, "jtk1")
    make_identity(site, "jtk2", ssh_host_keys=False)
    return site


def read(path):
    with open(path) as handle:
        return handle.read()


def test_swap_moves_the_image_in_and_injects_identity_keys_and_marker(site):
    slot = site.layout.image_path("alice/cuda-dev")
    nfsroot = site.board("jtk1").nfsroot
    inode = os.lstat(slot).st_ino
    ret = site.swap("jtk1", "alice/cuda-dev", switch_id="sw-1", is_exported=not_exported)
    assert ret["changed"] is True and ret["parked"] is None and ret["switch_id"] == "sw-1"
    assert not os.path.exists(slot)
    assert os.lstat(nfsroot).st_ino == inode  # a rename, not a copy
    root = lambda rel: os.path.join(nfsroot, rel)  # noqa: E731
    assert read(root(marker.MINION_ID)) == "jtk1\n"
    conf = yaml.safe_load(read(root(marker.MINION_CONF)))
    assert conf == {"master": "127.0.0.1", "id": "jtk1", "mine_enabled": False}
    assert read(root(marker.HOSTNAME)) == "jtk1\n"
    assert read(root("etc/salt/pki/minion/minion.pem")).endswith("jtk1-minion\n")
    assert stat.S_IMODE(os.lstat(root("etc/salt/pki/minion/minion.pem")).st_mode) == 0o400
    assert read(root("etc/ssh/ssh_host_ed25519_key")) == "jtk1-hostkey\n"
    assert stat.S_IMODE(os.lstat(root("etc/ssh/ssh_host_ed25519_key")).st_mode) == 0o600
    assert SSH_KEY_ALICE in read(root(marker.AUTHORIZED_KEYS)).splitlines()
    assert stat.S_IMODE(os.lstat(root("root/.ssh")).st_mode) == 0o700
    assert marker.read_marker(nfsroot) == {"board": "jtk1", "image": "alice/cuda-dev",
                                           "user": "alice", "switch_id": "sw-1"}
    state = site.state("jtk1")
    assert (state["image"], state["user"], state["switch_id"], state["operation"]) == \
        ("alice/cuda-dev", "alice", "sw-1", None)
    assert [i["where"] for i in site.list_images("alice")] == ["board", "store"]


def test_swap_again_with_the_same_switch_changes_nothing(site):
    site.swap("jtk1", "alice/cuda-dev", switch_id="sw-1", is_exported=not_exported)
    state_file = site.layout.state_file("jtk1")
    before = (read(state_file), manifest(site.board("jtk1").nfsroot))
    ret = site.swap("jtk1", "alice/cuda-dev", switch_id="sw-1", is_exported=not_exported)
    assert ret["changed"] is False
    assert "is already at the nfsroot of jtk1 for alice (switch sw-1): nothing changed" in ret["comment"]
    assert (read(state_file), manifest(site.board("jtk1").nfsroot)) == before


def test_swap_to_another_image_parks_the_current_one_exactly_as_it_was(site):
    originals = {i: manifest(site.layout.image_path(i)) for i in ("alice/cuda-dev", "bob/shared")}
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    ret = site.swap("jtk1", "bob/shared", user="alice", switch_id="sw-2", is_exported=not_exported)
    assert ret["parked"] == "alice/cuda-dev" and ret["not_restored"] == []
    assert manifest(site.layout.image_path("alice/cuda-dev")) == originals["alice/cuda-dev"]
    nfsroot = site.board("jtk1").nfsroot
    assert SSH_KEY_ALICE in read(os.path.join(nfsroot, marker.AUTHORIZED_KEYS))
    assert SSH_KEY_BOB not in read(os.path.join(nfsroot, marker.AUTHORIZED_KEYS))
    site.park("jtk1", is_exported=not_exported)
    assert manifest(site.layout.image_path("bob/shared")) == originals["bob/shared"]
    assert os.listdir(nfsroot) == []
    assert not os.path.exists(site.saved_dir("jtk1"))


def test_a_new_switch_of_the_same_image_rewrites_the_marker(site):
    site.swap("jtk1", "alice/cuda-dev", switch_id="sw-1", is_exported=not_exported)
    ret = site.swap("jtk1", "alice/cuda-dev", switch_id="sw-2", is_exported=not_exported)
    assert ret["changed"] is True
    assert marker.read_marker(site.board("jtk1").nfsroot)["switch_id"] == "sw-2"
    before = manifest(site.layout.image_path("alice/other"))
    site.park("jtk1", is_exported=not_exported)
    assert not os.path.exists(os.path.join(site.layout.image_path("alice/cuda-dev"), marker.MARKER))
    assert manifest(site.layout.image_path("alice/other")) == before


def test_park_restores_and_is_idempotent(site):
    original = manifest(site.layout.image_path("alice/cuda-dev"))
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    ret = site.park("jtk1", is_exported=not_exported)
    assert ret["changed"] is True and ret["parked"] == "alice/cuda-dev"
    assert manifest(site.layout.image_path("alice/cuda-dev")) == original
    again = site.park("jtk1", is_exported=not_exported)
    assert again["changed"] is False
    assert again["comment"] == "no image is at the nfsroot of jtk1: nothing changed"


def test_swap_and_park_refuse_while_the_nfsroot_is_exported(site):
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    state_before = read(site.layout.state_file("jtk1"))
    with pytest.raises(Refused, match=r"the nfsroot .*NFSRoot1 of board jtk1 is exported: unexport it first"):
        site.swap("jtk1", "alice/other", is_exported=lambda board: True)
    with pytest.raises(Refused, match="of board jtk1 is exported"):
        site.park("jtk1", is_exported=lambda board: board == "jtk1")
    assert read(site.layout.state_file("jtk1")) == state_before
    assert os.path.isdir(site.layout.image_path("alice/other"))


def test_an_nfsroot_on_another_file_system_is_refused(pillar):
    shm = f"/dev/shm/jetson-rootfs-test-{uuid.uuid4().hex[:8]}"
    os.makedirs(shm)
    try:
        pillar["boards"]["jtk1"]["nfsroot"] = f"{shm}/NFSRoot1"
        site = make_site(pillar)
        site.layout.ensure()
        add_image(site, "alice/cuda-dev")
        make_identity(site, "jtk1")
        with pytest.raises(CrossDevice, match=r"the store .* and the nfsroot /dev/shm/.*/NFSRoot1 of "
                                              r"board jtk1 are on different file systems"):
            site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
        assert os.path.isdir(site.layout.image_path("alice/cuda-dev"))
        assert os.listdir(shm) == []
    finally:
        shutil.rmtree(shm)


@pytest.mark.parametrize(("board", "image", "message"), [
    ("jtk1", "alice/..", r"invalid image name '\.\.'"),
    ("jtk1", "alice/a b", r"invalid image name 'a b'"),
    ("jtk1", "alice/x;rm -rf", r"invalid image name 'x;rm -rf'"),
    ("jtk1", "alice/sub/dir", r"an image is addressed as 'user/name'"),
    ("jtk1", "cuda-dev", r"an image is addressed as 'user/name'"),
    ("../jtk1", "alice/cuda-dev", r"invalid board name '\.\./jtk1'"),
    ("jtk 1", "alice/cuda-dev", r"invalid board name 'jtk 1'"),
    ("jtk1", "$(id)/x", r"invalid user name '\$\(id\)'"),
])
def test_bad_names_are_refused_before_any_path_is_built(site, board, image, message):
    with pytest.raises(InvalidName, match=message):
        site.swap(board, image, is_exported=not_exported)
    assert not os.path.exists(site.layout.state_file("jtk1"))


def test_a_missing_image_is_refused_and_leaves_no_lock_file(site):
    locks = os.path.join(site.layout.state_dir, "images")
    before = sorted(os.listdir(locks)) if os.path.isdir(locks) else []
    with pytest.raises(JetsonError, match=r"image alice/nope does not exist in the store"):
        site.swap("jtk1", "alice/nope", is_exported=not_exported)
    with pytest.raises(NotFound, match=r"image alice/nope does not exist"):
        site.remove("alice/nope")
    with pytest.raises(NotFound, match=r"image alice/nope does not exist"):
        site.clone("alice/nope", "alice/copy")
    assert site.state("jtk1")["image"] is None
    assert (sorted(os.listdir(locks)) if os.path.isdir(locks) else []) == before


def test_another_users_image_is_refused(site):
    with pytest.raises(NotAllowed, match="user 'alice' may not boot 'bob/private': it is bob's and not "):
        site.swap("jtk1", "bob/private", user="alice", is_exported=not_exported)
    with pytest.raises(NotFound, match="unknown user 'mallory'"):
        site.swap("jtk1", "alice/cuda-dev", user="mallory", is_exported=not_exported)
    assert os.path.isdir(site.layout.image_path("bob/private"))


def test_an_image_at_another_board_is_refused(site):
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    with pytest.raises(Refused, match="image alice/cuda-dev is at the nfsroot of board jtk1: park it there"):
        site.swap("jtk2", "alice/cuda-dev", is_exported=not_exported)


def test_a_board_without_its_minion_keys_is_refused(site):
    os.remove(os.path.join(site.layout.identity_dir("jtk2"), "minion.pem"))
    with pytest.raises(NotFound, match=r"board jtk2 has no minion key pair in .*identity \(missing: minion."):
        site.swap("jtk2", "alice/cuda-dev", is_exported=not_exported)
    assert os.path.isdir(site.layout.image_path("alice/cuda-dev"))


def test_the_location_comes_from_the_state_never_from_a_marker(site):
    # A marker forged inside a parked image claims it is on jtk2: it changes nothing.
    forged = os.path.join(site.layout.image_path("alice/other"), marker.MARKER)
    os.makedirs(os.path.dirname(forged))
    with open(forged, "w") as handle:
        json.dump({"board": "jtk2", "image": "alice/other", "user": "alice", "switch_id": "x"}, handle)
    assert site.info("alice/other")["where"] == "store"
    ret = site.swap("jtk2", "alice/other", is_exported=not_exported)
    assert ret["changed"] is True
    site.park("jtk2", is_exported=not_exported)
    with open(forged) as handle:
        assert json.load(handle)["switch_id"] == "x"  # the user's own file came back as it was


def test_a_concurrent_operation_on_the_board_is_refused(site):
    with site.board_lock("jtk1"):
        assert site.state("jtk1")["busy"] is True
        with pytest.raises(Refused, match="board jtk1 is busy: another process is working on it now"):
            site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)


def test_an_image_being_cloned_is_not_moved(site):
    with site.image_lock("alice/cuda-dev", shared=True):
        with pytest.raises(Refused, match=r"image alice/cuda-dev \(being cloned, moved or removed\) is busy"):
            site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    assert os.path.isdir(site.layout.image_path("alice/cuda-dev"))


@pytest.mark.parametrize("switch_id", ["x\nssh-ed25519 AAAA mallory", "", "a b", "-rf"])
def test_a_switch_id_that_could_inject_lines_is_refused(site, switch_id):
    with pytest.raises(InvalidName, match="invalid switch id"):
        site.swap("jtk1", "alice/cuda-dev", switch_id=switch_id, is_exported=not_exported)
    assert os.path.isdir(site.layout.image_path("alice/cuda-dev"))
