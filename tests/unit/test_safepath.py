"""The no-symlink path walk: writes never leave the rootfs, whatever its links say."""

import os
import stat

import pytest

from jetson_farm.errors import UnsafePath
from jetson_farm.safepath import SafeRoot, split_relpath


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    host = tmp_path / "host"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "shadow").write_text("root:secret\n")
    return root, host


@pytest.mark.parametrize("relpath", ["/etc/passwd", "../etc/passwd", "etc/../../x", "etc//x", "./etc", ""])
def test_relpaths_that_could_leave_are_refused(relpath):
    with pytest.raises(UnsafePath, match=r"relative path|component"):
        split_relpath(relpath)


def test_write_creates_folders_with_their_mode_and_reports_each(rootfs):
    root, _ = rootfs
    created = []

    def create(relpath):
        created.append(relpath)
        return 0o700

    with SafeRoot(str(root)) as safe:
        safe.write_file("root/.ssh/authorized_keys", b"key\n", 0o600, create=create)
    assert created == ["root", "root/.ssh"]
    assert (root / "root/.ssh/authorized_keys").read_text() == "key\n"
    assert stat.S_IMODE(os.lstat(root / "root/.ssh").st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(root / "root/.ssh/authorized_keys").st_mode) == 0o600


def test_a_symlinked_folder_on_the_way_is_refused_and_its_target_untouched(rootfs):
    root, host = rootfs
    os.symlink(str(host / "etc"), root / "etc" / "salt")
    before = os.lstat(host / "etc").st_mtime_ns
    with SafeRoot(str(root), label="alice/evil") as safe:
        with pytest.raises(UnsafePath, match=r"etc/salt is a symlink \(to '.*host/etc'\) in the rootfs "
                                             r"of alice/evil: refusing to write etc/salt/minion_id"):
            safe.write_file("etc/salt/minion_id", b"jtk1\n", 0o644, create=lambda rel: 0o755)
    assert sorted(os.listdir(host / "etc")) == ["shadow"]
    assert os.lstat(host / "etc").st_mtime_ns == before


def test_a_symlink_at_the_name_is_refused_not_followed(rootfs):
    root, host = rootfs
    os.symlink(str(host / "etc" / "shadow"), root / "etc" / "hostname")
    with SafeRoot(str(root)) as safe:
        with pytest.raises(UnsafePath, match="etc/hostname is a symlink"):
            safe.write_file("etc/hostname", b"jtk1\n", 0o644)
        with pytest.raises(UnsafePath, match="etc/hostname is a symlink"):
            safe.check_writable("etc/hostname")
        with pytest.raises(UnsafePath, match="etc/hostname is a symlink"):
            safe.copy_out("etc/hostname", str(root.parent / "copy"))
    assert (host / "etc" / "shadow").read_text() == "root:secret\n"


def test_a_hardlinked_file_is_replaced_not_written_through(rootfs):
    root, host = rootfs
    os.link(host / "etc" / "shadow", root / "etc" / "hostname")
    with SafeRoot(str(root)) as safe:
        safe.write_file("etc/hostname", b"jtk1\n", 0o644)
    assert (root / "etc" / "hostname").read_text() == "jtk1\n"
    assert (host / "etc" / "shadow").read_text() == "root:secret\n"


def test_a_special_file_or_folder_at_the_name_is_refused(rootfs):
    root, _ = rootfs
    os.mkfifo(root / "etc" / "fifo")
    (root / "etc" / "dir").mkdir()
    with SafeRoot(str(root)) as safe:
        with pytest.raises(UnsafePath, match="etc/fifo is not a regular file"):
            safe.copy_out("etc/fifo", str(root.parent / "copy"))
        with pytest.raises(UnsafePath, match="etc/dir is not a regular file"):
            safe.write_file("etc/dir", b"x", 0o644)


def test_a_file_where_a_folder_should_be_is_refused(rootfs):
    root, _ = rootfs
    (root / "etc" / "salt").write_text("not a folder")
    with SafeRoot(str(root)) as safe:
        with pytest.raises(UnsafePath, match="etc/salt is not a directory"):
            safe.write_file("etc/salt/minion_id", b"x", 0o644, create=lambda rel: 0o755)


def test_unlink_removes_a_symlink_never_its_target(rootfs):
    root, host = rootfs
    os.symlink(str(host / "etc" / "shadow"), root / "etc" / "hostname")
    with SafeRoot(str(root)) as safe:
        assert safe.unlink("etc/hostname") is True
        assert safe.unlink("etc/hostname") is False
    assert (host / "etc" / "shadow").read_text() == "root:secret\n"


def test_rmdir_only_removes_empty_folders(rootfs):
    root, _ = rootfs
    (root / "etc" / "full").mkdir()
    (root / "etc" / "full" / "x").write_text("x")
    (root / "etc" / "empty").mkdir()
    with SafeRoot(str(root)) as safe:
        assert safe.rmdir_if_empty("etc/full") is False
        assert safe.rmdir_if_empty("etc/empty") is True
    assert sorted(os.listdir(root / "etc")) == ["full"]


def test_a_symlinked_rootfs_itself_is_refused(rootfs, tmp_path):
    _, host = rootfs
    os.symlink(str(host), tmp_path / "link")
    with pytest.raises(UnsafePath, match="is a symlink or not a directory"):
        with SafeRoot(str(tmp_path / "link")):
            pass
