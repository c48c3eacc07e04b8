"""import_tar: owners, modes, setuid bits and device nodes kept; members that leave refused."""

import io
import os
import stat
import tarfile

import pytest

from jetson_farm.errors import JetsonError, NotFound, UnsafePath
from tests.unit.test_rootfs_helpers import make_site


@pytest.fixture
def site(pillar):
    site = make_site(pillar)
    site.layout.ensure()
    return site


def member(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, linkname="", dev=(0, 0)):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.linkname = kind, mode, uid, gid, linkname
    info.devmajor, info.devminor = dev
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 1_600_000_000
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def make_tar(path, members, mode="w"):
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return str(path)


def sample_members():
    return [
        member("./", tarfile.DIRTYPE, mode=0o755),
        member("./etc", tarfile.DIRTYPE, mode=0o755),
        member("./etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n", uid=0, gid=42),
        member("./bin", tarfile.DIRTYPE, mode=0o755),
        member("./bin/su", data=b"#!su\n", mode=0o4755),
        member("./bin/su-again", tarfile.LNKTYPE, linkname="./bin/su", mode=0o4755),  # as GNU tar writes it
        member("./home", tarfile.DIRTYPE, mode=0o755),
        member("./home/ubuntu", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=1000),
        member("./home/ubuntu/.profile", data=b"x\n", uid=1000, gid=1000, mode=0o600),
        member("./tmp", tarfile.DIRTYPE, mode=0o1777),
        member("./lib", tarfile.SYMTYPE, linkname="usr/lib"),
        member("./dev", tarfile.DIRTYPE, mode=0o755),
        member("./dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
    ]


@pytest.mark.parametrize("compression", ["", "gz", "bz2"])
def test_import_keeps_owners_modes_setuid_links_and_devices(site, farm_dir, compression):
    suffix = {"": ".tar", "gz": ".tar.gz", "bz2": ".tbz2"}[compression]
    mode = f"w:{compression}" if compression else "w"
    source = make_tar(farm_dir / f"rootfs{suffix}", sample_members(), mode)
    ret = site.import_tar("admin", "l4t-base", source)
    assert ret["image"] == "admin/l4t-base" and ret["members"] == 12
    root = site.layout.image_path("admin/l4t-base")
    st = lambda rel: os.lstat(os.path.join(root, rel))  # noqa: E731
    assert stat.S_IMODE(st("bin/su").st_mode) == 0o4755
    assert st("bin/su-again").st_ino == st("bin/su").st_ino
    assert (st("etc/passwd").st_uid, st("etc/passwd").st_gid) == (0, 42)
    assert (st("home/ubuntu").st_uid, stat.S_IMODE(st("home/ubuntu").st_mode)) == (1000, 0o750)
    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert os.readlink(os.path.join(root, "lib")) == "usr/lib"
    assert stat.S_ISCHR(st("dev/null").st_mode) and os.major(st("dev/null").st_rdev) == 1
    assert stat.S_IMODE(os.lstat(root).st_mode) == 0o755
    assert [n for n in os.listdir(site.layout.images_dir) if n.startswith(".")] == []


@pytest.mark.parametrize(("members", "message"), [
    ([member("etc", tarfile.DIRTYPE), member("../escape", data=b"x")],
     r"member '../escape' has a '..' component"),
    ([member("etc/../../escape", data=b"x")], r"member 'etc/../../escape' has a '..' component"),
    ([member("/etc/passwd", data=b"x")], r"member '/etc/passwd' is an absolute path"),
    ([member("link", tarfile.SYMTYPE, linkname="/etc"), member("link/passwd", data=b"x")],
     r"member 'link/passwd' would be written through the symlink member 'link'"),
    ([member("link", tarfile.SYMTYPE, linkname="/etc/shadow"), member("link", data=b"x")],
     r"member 'link' would be written through the symlink member 'link'"),
    ([member("passwd", tarfile.LNKTYPE, linkname="../../etc/passwd")],
     r"hardlink 'passwd' points outside the target \('../../etc/passwd'\)"),
    ([member("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")],
     r"hardlink 'passwd' points outside the target \('/etc/passwd'\)"),
    ([member("shadow", tarfile.SYMTYPE, linkname="/etc/shadow"),
      member("copy", tarfile.LNKTYPE, linkname="shadow")],
     r"hardlink 'copy' points to or through the symlink 'shadow'"),
    ([member("copy", tarfile.LNKTYPE, linkname="etc/missing")],
     r"hardlink 'copy' points to 'etc/missing', which is not an earlier member"),
])
def test_members_that_would_leave_the_target_are_refused(site, farm_dir, members, message):
    host = farm_dir / "host"
    host.mkdir()
    source = make_tar(farm_dir / "evil.tar", members)
    with pytest.raises(UnsafePath, match=message):
        site.import_tar("alice", "evil", source)
    assert os.listdir(site.layout.images_dir) == []
    assert os.listdir(host) == []
    assert not os.path.exists(farm_dir.parent / "escape")


def test_an_existing_image_a_missing_or_broken_source_are_refused(site, farm_dir):
    source = make_tar(farm_dir / "ok.tar", sample_members())
    site.import_tar("alice", "one", source)
    with pytest.raises(JetsonError, match="image alice/one already exists"):
        site.import_tar("alice", "one", source)
    with pytest.raises(NotFound, match=r"tarball /nonexistent.tar does not exist"):
        site.import_tar("alice", "two", "/nonexistent.tar")
    (farm_dir / "broken.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(JetsonError, match=r"broken.tar.gz is not a readable tarball"):
        site.import_tar("alice", "two", str(farm_dir / "broken.tar.gz"))
    with pytest.raises(JetsonError, match="must be an absolute path"):
        site.import_tar("alice", "two", "relative.tar")
    assert sorted(os.listdir(site.layout.images_dir)) == ["alice"]
    assert os.listdir(site.layout.user_dir("alice")) == ["one"]
