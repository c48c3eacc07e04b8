"""Hostile rootfs: symlinks to the site server's own files never let a swap or park write there."""

import os
import shutil

import pytest

from jetson_farm.errors import UnsafePath
from tests.unit.test_rootfs_helpers import (
    add_image,
    make_identity,
    make_site,
    manifest,
    not_exported,
)


@pytest.fixture
def site(pillar):
    site = make_site(pillar)
    site.layout.ensure()
    add_image(site, "alice/cuda-dev")
    add_image(site, "alice/evil")
    make_identity(site, "jtk1")
    return site


@pytest.fixture
def host(farm_dir):
    """A scratch stand-in for the site server's own files."""
    root = farm_dir / "host"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("root:$6$secret:19000::::::\n")
    (root / "root" / ".ssh").mkdir(parents=True)
    (root / "root" / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA admin@host\n")
    return root


def snapshot(path):
    st = os.lstat(path)
    return manifest(str(path)), st.st_mtime_ns


def plant(site, image, relpath, target):
    path = os.path.join(site.layout.image_path(image), relpath)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def assert_nothing_moved(site):
    assert os.path.isdir(site.layout.image_path("alice/evil"))
    assert site.state("jtk1")["image"] is None
    nfsroot = site.board("jtk1").nfsroot
    assert not os.path.exists(nfsroot) or os.listdir(nfsroot) == []
    assert not os.path.exists(site.saved_dir("jtk1"))


def test_etc_salt_linked_to_the_real_etc_is_refused(site):
    # The one check against the real host: /etc must not gain a minion_id or a minion.d.
    plant(site, "alice/evil", "etc/salt", "/etc")
    before = (os.lstat("/etc").st_mtime_ns, os.path.lexists("/etc/minion_id"),
              os.path.lexists("/etc/minion.d"))
    with pytest.raises(UnsafePath, match=r"etc/salt is a symlink \(to '/etc'\) in the rootfs of alice/evil: "
                                         r"refusing to write etc/salt/minion_id through it"):
        site.swap("jtk1", "alice/evil", is_exported=not_exported)
    assert (os.lstat("/etc").st_mtime_ns, os.path.lexists("/etc/minion_id"),
            os.path.lexists("/etc/minion.d")) == before == (before[0], False, False)
    assert_nothing_moved(site)


def test_etc_hostname_linked_to_shadow_is_refused(site, host):
    plant(site, "alice/evil", "etc/hostname", str(host / "etc" / "shadow"))
    before = snapshot(host)
    with pytest.raises(UnsafePath, match=r"etc/hostname is a symlink \(to '.*/host/etc/shadow'\) in the "
                                         r"rootfs of alice/evil"):
        site.swap("jtk1", "alice/evil", is_exported=not_exported)
    assert snapshot(host) == before
    assert_nothing_moved(site)


def test_root_ssh_linked_to_the_admins_ssh_is_refused(site, host):
    plant(site, "alice/evil", "root/.ssh", str(host / "root" / ".ssh"))
    before = snapshot(host)
    with pytest.raises(UnsafePath, match=r"root/.ssh is a symlink \(to '.*/host/root/.ssh'\) in the rootfs "
                                         r"of alice/evil: refusing to write root/.ssh/authorized_keys"):
        site.swap("jtk1", "alice/evil", is_exported=not_exported)
    assert snapshot(host) == before
    assert_nothing_moved(site)


def test_a_symlink_planted_during_the_session_is_not_followed_by_park(site, host):
    # The user is root on the board: while it runs they swap etc/salt for a link to the host.
    site.swap("jtk1", "alice/cuda-dev", is_exported=not_exported)
    nfsroot = site.board("jtk1").nfsroot
    shutil.rmtree(os.path.join(nfsroot, "etc/salt"))
    os.symlink(str(host / "etc"), os.path.join(nfsroot, "etc/salt"))
    before = snapshot(host)
    ret = site.park("jtk1", is_exported=not_exported)
    assert ret["changed"] is True and ret["parked"] == "alice/cuda-dev"
    assert any(item.startswith("etc/salt/minion_id: etc/salt is a symlink") for item in ret["not_restored"])
    assert snapshot(host) == before
    slot = site.layout.image_path("alice/cuda-dev")
    assert os.readlink(os.path.join(slot, "etc/salt")) == str(host / "etc")  # left as the user made it
    assert not os.path.exists(os.path.join(slot, "etc/jetson-farm/marker.json"))  # the rest restored
    assert open(os.path.join(slot, "etc/hostname")).read() == "ubuntu\n"
