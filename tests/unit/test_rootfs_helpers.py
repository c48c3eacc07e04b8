"""Helpers shared by the rootfs tests: a site store, rootfs trees, identities, content manifests.

(Named test_* so it sits with the tests it serves; it holds one self-test of the manifest.)
"""

import hashlib
import os
import stat

from jetson_farm.inventory import Inventory
from jetson_farm.layout import SiteLayout
from jetson_farm.rootfs import RootfsSite


def not_exported(board):
    return False


def make_site(pillar):
    inventory = Inventory.load(pillar)
    return RootfsSite(inventory, inventory.site("site01"))


def make_rootfs(path, hostname="ubuntu", extra=None):
    """A small rootfs tree at ``path``: a few files, a setuid binary, a symlink, a hardlink."""
    os.makedirs(path)
    for folder in ("etc/ssh", "root", "bin", "usr/lib", "var/log"):
        os.makedirs(os.path.join(path, folder), exist_ok=True)
    files = {"etc/hostname": f"{hostname}\n", "etc/passwd": "root:x:0:0::/root:/bin/sh\n",
             "bin/sh": "#!fake shell\n", "usr/lib/libfoo.so.1": "x" * 5000,
             "etc/ssh/sshd_config": "PermitRootLogin prohibit-password\n"}
    files.update(extra or {})
    for rel, text in files.items():
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as handle:
            handle.write(text)
    os.chmod(os.path.join(path, "bin/sh"), 0o4755)
    os.chown(os.path.join(path, "etc/passwd"), 0, 42)
    os.utime(os.path.join(path, "etc/hostname"), ns=(1_600_000_000_000_000_000,) * 2)
    os.symlink("libfoo.so.1", os.path.join(path, "usr/lib/libfoo.so"))
    os.link(os.path.join(path, "bin/sh"), os.path.join(path, "bin/dash"))
    return path


def make_identity(site, board, ssh_host_keys=True):
    folder = site.layout.identity_dir(board)
    os.makedirs(folder, exist_ok=True)
    keys = {"minion.pem": f"-----BEGIN RSA PRIVATE KEY-----\n{board}-minion\n",
            "minion.pub": f"-----BEGIN PUBLIC KEY-----\n{board}-minion\n"}
    if ssh_host_keys:
        keys.update({"ssh_host_ed25519_key": f"{board}-hostkey\n",
                     "ssh_host_ed25519_key.pub": f"ssh-ed25519 AAAA {board}\n"})
    for name, text in keys.items():
        with open(os.path.join(folder, name), "w") as handle:
            handle.write(text)
    return folder


def add_image(site, image, **kwargs):
    return make_rootfs(site.layout.image_path(image), **kwargs)


def manifest(path):
    """``{relpath: (type, mode, uid, gid, content or link)}`` of a tree, plus regular files'
    mtimes: what a user would see as "the same files"."""
    result = {}
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, path)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid)
            elif not stat.S_ISREG(st.st_mode):  # a device node of a built image: never read
                result[rel] = ("special", st.st_mode, st.st_uid, st.st_gid, st.st_rdev)
            else:
                with open(full, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                result[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, digest, st.st_mtime_ns,
                               st.st_nlink)
    return result


def test_manifest_sees_content_modes_and_links(tmp_path):
    root = make_rootfs(str(tmp_path / "r"))
    before = manifest(root)
    assert before["bin/sh"][1] & stat.S_ISUID
    assert before["usr/lib/libfoo.so"] == ("link", "libfoo.so.1")
    with open(os.path.join(root, "etc/passwd"), "a") as handle:
        handle.write("x")
    assert manifest(root) != before




def seed_store(root):
    """A store at ``root`` with alice/cuda-dev, bob/private and jtk1's identity; its layout."""
    layout = SiteLayout(root)
    layout.ensure()
    for image in ("alice/cuda-dev", "bob/private"):
        make_rootfs(layout.image_path(image))
    identity = layout.identity_dir("jtk1")
    os.makedirs(identity)
    for name in ("minion.pem", "minion.pub"):
        with open(os.path.join(identity, name), "w") as handle:
            handle.write(f"{name} of jtk1\n")
    return layout
