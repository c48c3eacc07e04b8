"""A parked image carries no board's identity: the swap injects the board's host keys, and the
park puts back or removes what the board made of itself while it ran, never through a symlink."""

import os
import stat

import pytest

from jetson_farm.rootfs.inject import ORIGINAL_MAX
from jetson_farm.runner.identity_store import ensure_identity
from jetson_farm.safepath import UnsafePath
from tests.unit.test_rootfs_helpers import add_image, make_site, manifest, not_exported

IMAGE = "alice/cuda-dev"
HOST_KEYS = [f"ssh_host_{kind}_key{ext}" for kind in ("ed25519", "ecdsa", "rsa") for ext in ("", ".pub")]


@pytest.fixture
def site(pillar):
    site = make_site(pillar)
    site.layout.ensure()
    ensure_identity(site.site.root, "jtk1")  # as enrolment makes it: minion pair and host keys
    return site


def add(site, extra):
    """The image, with the folders a Debian image has where a board writes its ids."""
    slot = add_image(site, IMAGE, extra=extra)
    for folder in ("var/lib/dbus", "var/lib/systemd"):
        os.makedirs(os.path.join(slot, folder), exist_ok=True)
    return slot


def in_slot(site, relpath):
    return os.path.join(site.layout.image_path(IMAGE), relpath)


def run_a_board(nfsroot, made):
    """What a booted board writes into its root: ``{relpath: text}``."""
    for relpath, text in made.items():
        path = os.path.join(nfsroot, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)


BOARD_MADE = {
    "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
    "var/lib/systemd/random-seed": "seed of jtk1",
    "etc/salt/pki/minion/minion_master.pub": "-----BEGIN PUBLIC KEY-----\nthe master\n",
    "etc/ssh/ssh_host_dsa_key": "a key type the farm does not inject\n",
    "etc/ssh/ssh_host_ed25519_key": "sshd's keygen, over the injected one\n",
}


def test_the_swap_injects_the_boards_host_keys(site):
    add(site, {})
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    identity = site.layout.identity_dir("jtk1")
    ssh = os.path.join(site.board("jtk1").nfsroot, "etc/ssh")
    for name in HOST_KEYS:
        with open(os.path.join(ssh, name), "rb") as got, open(os.path.join(identity, name), "rb") as kept:
            assert got.read() == kept.read()
        st = os.lstat(os.path.join(ssh, name))
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o644 if name.endswith(".pub") else 0o600, 0)


@pytest.mark.parametrize("machine_id", [None, "", "the owner's own id\n"], ids=["absent", "empty", "owner's"])
def test_park_gives_the_image_back_with_nothing_the_board_made(site, machine_id):
    extra = {"etc/ssh/ssh_host_ecdsa_key": "the owner's own host key\n"}
    if machine_id is not None:
        extra["etc/machine-id"] = machine_id
    add(site, extra)
    before = manifest(site.layout.image_path(IMAGE))
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    run_a_board(site.board("jtk1").nfsroot, BOARD_MADE)
    ret = site.park("jtk1", is_exported=not_exported)
    assert ret["not_restored"] == []
    assert manifest(site.layout.image_path(IMAGE)) == before
    assert not os.path.lexists(in_slot(site, "etc/salt"))  # folders the swap made are gone too


def test_a_second_board_boots_the_image_with_its_own_identity_only(site):
    add(site, {"etc/machine-id": ""})
    ensure_identity(site.site.root, "jtk2")
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    run_a_board(site.board("jtk1").nfsroot, BOARD_MADE)
    site.park("jtk1", is_exported=not_exported)
    site.swap("jtk2", IMAGE, is_exported=not_exported)
    nfsroot = site.board("jtk2").nfsroot
    with open(os.path.join(nfsroot, "etc/machine-id")) as handle:
        assert handle.read() == ""
    assert sorted(n for n in os.listdir(os.path.join(nfsroot, "etc/ssh")) if n.startswith("ssh_host_")) \
        == sorted(HOST_KEYS)
    with open(os.path.join(nfsroot, "etc/ssh/ssh_host_rsa_key.pub")) as handle:
        assert handle.read().endswith(" root@jtk2\n")
    assert sorted(os.listdir(os.path.join(nfsroot, "etc/salt/pki/minion"))) == ["minion.pem", "minion.pub"]


@pytest.fixture
def host(farm_dir):
    """A scratch stand-in for the site server's own files."""
    root = farm_dir / "host"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "machine-id").write_text("the site server's id\n")
    (root / "etc" / "shadow").write_text("root:$6$secret:19000::::::\n")
    return root


def host_files(host):
    return {path: path.read_bytes() for path in sorted(host.rglob("*")) if path.is_file()}


def test_the_owners_symlinks_are_left_as_they_are_and_never_followed(site, host):
    slot = add(site, {})
    os.symlink("/etc/machine-id", os.path.join(slot, "var/lib/dbus/machine-id"))  # as Debian ships it
    os.symlink(str(host / "etc/machine-id"), os.path.join(slot, "etc/machine-id"))
    os.symlink(str(host / "etc/shadow"), os.path.join(slot, "etc/ssh/ssh_host_dsa_key"))
    before, host_before = manifest(slot), host_files(host)
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    site.park("jtk1", is_exported=not_exported)
    assert manifest(slot) == before
    assert host_files(host) == host_before


def test_links_the_board_planted_are_removed_not_followed(site, host):
    slot = add(site, {"etc/machine-id": ""})
    before, host_before = manifest(slot), host_files(host)
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    nfsroot = site.board("jtk1").nfsroot
    for relpath, target in (("etc/salt/pki/minion/minion_master.pub", "etc/shadow"),
                            ("etc/ssh/ssh_host_dsa_key", "etc/shadow"),
                            ("var/lib/systemd/random-seed", "etc/shadow")):
        os.makedirs(os.path.dirname(os.path.join(nfsroot, relpath)), exist_ok=True)
        os.symlink(str(host / target), os.path.join(nfsroot, relpath))
    ret = site.park("jtk1", is_exported=not_exported)
    assert ret["not_restored"] == []
    assert host_files(host) == host_before
    assert manifest(slot) == before


def test_a_folder_the_board_turned_into_a_link_is_not_entered(site, host):
    slot = add(site, {})
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    nfsroot = site.board("jtk1").nfsroot
    os.rename(os.path.join(nfsroot, "etc/ssh"), os.path.join(nfsroot, "etc/ssh.old"))
    os.symlink(str(host / "etc"), os.path.join(nfsroot, "etc/ssh"))
    (host / "etc" / "ssh_host_rsa_key").write_text("the site server's own host key\n")
    host_before = host_files(host)
    ret = site.park("jtk1", is_exported=not_exported)
    assert ret["parked"] == IMAGE
    assert any(item.startswith("etc/ssh: etc/ssh is a symlink") for item in ret["not_restored"])
    assert host_files(host) == host_before
    assert os.readlink(os.path.join(slot, "etc/ssh")) == str(host / "etc")


OVER = ORIGINAL_MAX + 1  # one byte is enough: the size is read, never the file (it may be a sparse TiB)


def sparse(path, size):
    """A sparse file of ``size`` bytes: what a user root makes in no time and no space."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_a_huge_file_where_the_swap_injects_refuses_the_swap_before_anything_moves(site):
    slot = add(site, {})
    sparse(os.path.join(slot, "etc/ssh/ssh_host_rsa_key"), OVER)
    before = manifest(slot)
    with pytest.raises(UnsafePath, match=r"etc/ssh/ssh_host_rsa_key is 1048577 bytes, more than the "
                                         r"1048576 a file the farm saves and replaces may hold"):
        site.swap("jtk1", IMAGE, is_exported=not_exported)
    assert manifest(slot) == before  # still in its slot, untouched
    assert not os.path.lexists(site.board("jtk1").nfsroot)  # nothing moved there


def test_a_huge_board_made_file_is_left_as_it_is_not_copied(site):
    slot = add(site, {"etc/machine-id": ""})
    sparse(os.path.join(slot, "var/lib/systemd/random-seed"), OVER)
    before = manifest(slot)
    site.swap("jtk1", IMAGE, is_exported=not_exported)
    state = os.path.join(site.site.root, "state")
    saved = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(state) for n in names)
    assert saved < ORIGINAL_MAX, saved  # only ids and keys were saved
    ret = site.park("jtk1", is_exported=not_exported)
    assert (ret["parked"], ret["not_restored"]) == (IMAGE, [])
    assert manifest(slot) == before
