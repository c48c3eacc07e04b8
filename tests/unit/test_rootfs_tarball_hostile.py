"""import_tar against hostile archives (issue 9): a node left by one member is never opened,
followed or written through by the next; every refusal is a JetsonError naming the member,
with no hang, no staging folder left, the store unchanged and the host byte-for-byte the same.

The canaries: files outside the store, and a loop device over a canary file whose major/minor
an archive's block-device member reuses (as it could the site server's own disk).
"""

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from jetson_farm.errors import JetsonError, NotFound, UnsafePath
from jetson_farm.rootfs import tarball, untar
from tests.unit.test_rootfs_helpers import make_site
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members

# A FIFO opened for writing blocks until a reader comes: a regression hangs, so time it out.
pytestmark = pytest.mark.timeout(60)

LOOP_BYTES = 1 << 20


@pytest.fixture
def site(pillar):
    site = make_site(pillar)
    site.layout.ensure()
    return site


@pytest.fixture
def canaries(farm_dir):
    """Files of the "host" next to the store; ``check()`` asserts they are unchanged."""
    host = farm_dir / "host"
    (host / "etc").mkdir(parents=True)
    files = {host / "etc" / "shadow": b"root:$6$secret:19000::::::\n",
             host / "disk.bin": os.urandom(65536), farm_dir / "root" / "canary": b"store's parent\n"}
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    listing = sorted(os.listdir(host))

    def check():
        for path, data in files.items():
            assert path.read_bytes() == data, f"{path} was changed"
        assert sorted(os.listdir(host)) == listing

    return check


@pytest.fixture
def loop_canary(farm_dir):
    """``(device, major, minor, check)``: a loop device over a file of random bytes."""
    if os.geteuid() != 0 or not shutil.which("losetup"):
        pytest.skip("a loop-device canary needs root and losetup (util-linux)")
    backing = farm_dir / "loop-canary.img"
    data = os.urandom(LOOP_BYTES)
    backing.write_bytes(data)
    proc = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                          text=True, check=False, timeout=30)
    if proc.returncode != 0:
        pytest.skip(f"cannot attach a loop device here: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    rdev = os.stat(device).st_rdev

    def check():
        fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
        try:
            through_device = os.pread(fd, LOOP_BYTES, 0)
        finally:
            os.close(fd)
        assert hashlib.sha256(through_device).digest() == hashlib.sha256(data).digest(), \
            f"{device} (over the canary file) was written"
        assert backing.read_bytes() == data, f"the canary file behind {device} was written"

    try:
        yield device, os.major(rdev), os.minor(rdev), check
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True, check=False, timeout=30)


def assert_store_unchanged(site):
    assert os.listdir(site.layout.images_dir) == [], "a staging folder or an image was left"


PAYLOAD = b"\xde\xad\xbe\xef" * 4096


def test_a_block_device_then_a_file_never_writes_the_host_device(site, farm_dir, canaries, loop_canary):
    _, major, minor, check_loop = loop_canary
    source = make_tar(farm_dir / "disk.tar", [
        member("dev", tarfile.DIRTYPE, mode=0o755),
        member("dev/disk", tarfile.BLKTYPE, mode=0o660, dev=(major, minor)),
        member("dev/disk", data=PAYLOAD),
    ])
    with pytest.raises(UnsafePath, match=r"member 'dev/disk' comes twice in the archive \(first "
                                         r"as a device\); refusing to replace it"):
        site.import_tar("alice", "evil", source)
    check_loop()
    canaries()
    assert_store_unchanged(site)


@pytest.mark.parametrize(("members", "message"), [
    ([member("dev/null", tarfile.CHRTYPE, dev=(1, 3)), member("dev/null", data=PAYLOAD)],
     r"member 'dev/null' comes twice in the archive \(first as a device\)"),
    ([member("dev/full", tarfile.CHRTYPE, dev=(1, 7)), member("dev/full", data=PAYLOAD)],
     r"member 'dev/full' comes twice in the archive \(first as a device\)"),
    ([member("run/pipe", tarfile.FIFOTYPE), member("run/pipe", data=PAYLOAD)],
     r"member 'run/pipe' comes twice in the archive \(first as a fifo\)"),
    ([member("etc/foo", data=b"x"), member("etc/foo/bar", data=b"y")],
     r"member 'etc/foo/bar' would be written below 'etc/foo', which an earlier member makes a "
     r"file, not a folder"),
    ([member("a", tarfile.DIRTYPE), member("a", tarfile.SYMTYPE, linkname="/etc"),
      member("a/x", data=b"pwned")],
     r"member 'a' comes twice in the archive \(first as a dir\)"),
    ([member("etc/passwd", data=b"x"), member("etc/passwd", data=b"y")],
     r"member 'etc/passwd' comes twice in the archive \(first as a file\)"),
    ([member("etc", tarfile.DIRTYPE), member("etc", data=b"x")],
     r"member 'etc' comes twice in the archive \(first as a dir\)"),
    ([member("bin/su", data=b"x"), member("bin", tarfile.LNKTYPE, linkname="bin/su")],
     r"member 'bin' comes twice in the archive"),
    ([member("etc", tarfile.DIRTYPE), member("copy", tarfile.LNKTYPE, linkname="etc")],
     r"hardlink 'copy' points to the folder 'etc'"),
], ids=["chr-1:3-then-file", "chr-1:7-then-file", "fifo-then-file", "file-then-child",
        "dir-then-symlink-then-child", "file-then-file", "dir-then-file", "file-then-hardlink-parent",
        "hardlink-to-folder"])
def test_a_member_that_would_reuse_a_node_is_refused(site, farm_dir, canaries, members, message):
    source = make_tar(farm_dir / "evil.tar", members)
    with pytest.raises(UnsafePath, match=message):
        site.import_tar("alice", "evil", source)
    canaries()
    assert_store_unchanged(site)


def extract_unchecked(members, farm_dir):
    """Run the extraction layer alone (no check_members) over ``members``; the folder made."""
    source = make_tar(farm_dir / "unchecked.tar", members)
    dest = farm_dir / "unchecked"
    dest.mkdir()
    root_fd = os.open(dest, untar.DIR_FLAGS)
    try:
        with tarfile.open(source) as tar:
            untar.extract(tar, tar.getmembers(), root_fd, source)
    finally:
        os.close(root_fd)
    return dest


@pytest.mark.parametrize("first", [
    member("node", tarfile.FIFOTYPE),
    member("node", tarfile.CHRTYPE, dev=(1, 7)),
    member("node", tarfile.SYMTYPE, linkname="../host/etc/shadow"),
    member("node", data=b"first"),
], ids=["fifo", "chr-1:7", "symlink-to-host", "file"])
def test_the_extraction_itself_never_opens_an_existing_node(farm_dir, canaries, first):
    """Even were a duplicate to pass the checks, the writer creates exclusively."""
    with pytest.raises(JetsonError, match=r"cannot extract member 'node': File exists"):
        extract_unchecked([first, member("node", data=PAYLOAD)], farm_dir)
    canaries()
    assert os.lstat(farm_dir / "unchecked" / "node").st_size < len(PAYLOAD)


def test_the_extraction_itself_never_writes_a_device(farm_dir, canaries, loop_canary):
    _, major, minor, check_loop = loop_canary
    with pytest.raises(JetsonError, match=r"cannot extract member 'disk': File exists"):
        extract_unchecked([member("disk", tarfile.BLKTYPE, dev=(major, minor)),
                           member("disk", data=PAYLOAD)], farm_dir)
    check_loop()
    canaries()


def test_the_extraction_itself_never_goes_through_a_symlink(farm_dir, canaries):
    host_etc = farm_dir / "host" / "etc"
    refused = r"cannot extract member 'a/shadow': (Not a directory|Too many levels)"
    with pytest.raises(JetsonError, match=refused):
        extract_unchecked([member("a", tarfile.SYMTYPE, linkname=str(host_etc)),
                           member("a/shadow", data=PAYLOAD)], farm_dir)
    canaries()


def truncated(data, farm_dir, cut, name="cut.tar"):
    path = farm_dir / name
    path.write_bytes(data[:cut])
    return str(path)


def test_an_archive_that_ends_early_is_refused(site, farm_dir, canaries):
    source = make_tar(farm_dir / "whole.tar", [member("etc", tarfile.DIRTYPE),
                                               member("etc/big", data=PAYLOAD),
                                               member("etc/small", data=b"x" * 100)])
    with open(source, "rb") as handle:
        data = handle.read()
    first_end = 512 + 512 + len(PAYLOAD)  # dir header, file header, file data
    for cut, message in [
        (first_end, r"ends early or is damaged after member 'etc/big' \(no end-of-archive block"),
        (first_end + 512 + 512, r"ends early or is damaged after member 'etc/small'"),
        (1024 + 4000, r"is not a readable tarball: unexpected end of data"),
        (700, r"is not a readable tarball"),
    ]:
        with pytest.raises(JetsonError, match=message):
            site.import_tar("alice", "cut", truncated(data, farm_dir, cut))
        assert_store_unchanged(site)
    for compress, suffix in [(gzip.compress, ".tar.gz"), (bz2.compress, ".tbz2"),
                             (lzma.compress, ".tar.xz")]:
        packed = compress(data)
        for cut in (len(packed) // 2, len(packed) - 9):
            with pytest.raises(JetsonError, match=rf"cut{suffix} is not a readable tarball"):
                site.import_tar("alice", "cut", truncated(packed, farm_dir, cut, f"cut{suffix}"))
            assert_store_unchanged(site)
    canaries()


def test_a_source_that_is_a_fifo_or_a_device_is_refused_without_blocking(site, farm_dir, canaries):
    fifo = farm_dir / "upload.tar"
    os.mkfifo(fifo)
    for source in (str(fifo), "/dev/zero"):
        with pytest.raises(NotFound, match=rf"tarball {source} does not exist or is not a file"):
            site.import_tar("alice", "pipe", source)
        # The open itself, for a FIFO put there after the first check: refused, not blocked.
        with pytest.raises(NotFound, match="is not a file"):
            tarball._open_source(source)
    assert_store_unchanged(site)
    canaries()


def test_bad_metadata_is_a_clear_error(site, farm_dir, canaries):
    late = member("etc/late", data=b"x")[0]
    late.pax_headers = {"mtime": "1e300"}
    long_name = member("etc/" + "n" * 300, data=b"x")
    for members, message in [
        ([member("etc", tarfile.DIRTYPE), (late, None)], r"cannot extract member 'etc/late'"),
        ([long_name], r"cannot extract member 'etc/n+': File name too long"),
    ]:
        source = make_tar(farm_dir / "meta.tar", members, mode="w")
        with pytest.raises(JetsonError, match=message):
            site.import_tar("alice", "meta", source)
        assert_store_unchanged(site)
    canaries()


def test_device_nodes_fifos_setuid_and_links_of_a_normal_image_are_kept(site, farm_dir, canaries,
                                                                        loop_canary):
    _, major, minor, check_loop = loop_canary
    members = [
        *sample_members(),
        member("./dev/loop9", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(major, minor)),
        member("./dev/full", tarfile.CHRTYPE, mode=0o666, dev=(1, 7)),
        member("./run", tarfile.DIRTYPE, mode=0o755),
        member("./run/initctl", tarfile.FIFOTYPE, mode=0o600, uid=0, gid=0),
        member("./run/initctl-again", tarfile.LNKTYPE, linkname="./run/initctl"),
        member("./usr/bin/passwd", data=b"#!passwd\n", mode=0o4755),  # parents not in the archive
        member("./usr/bin/wall", data=b"#!wall\n", mode=0o2755, gid=5),
        member("./etc/localtime", tarfile.SYMTYPE, linkname="/usr/share/zoneinfo/Etc/UTC",
               uid=1000, gid=1000),
        member("./etc/ro", tarfile.DIRTYPE, mode=0o555),
        member("./etc/ro/file", data=b"read-only folder\n", mode=0o444),
        member("./etc", tarfile.DIRTYPE, mode=0o750),  # a folder listed again: its last entry wins
    ]
    source = make_tar(farm_dir / "rootfs.tar.gz", members, mode="w:gz")
    ret = site.import_tar("admin", "l4t-base", source)
    assert ret["members"] == len(members) - 1
    root = site.layout.image_path("admin/l4t-base")
    st = lambda rel: os.lstat(os.path.join(root, rel))  # noqa: E731
    assert stat.S_ISBLK(st("dev/loop9").st_mode) and st("dev/loop9").st_rdev == os.makedev(major, minor)
    assert (stat.S_IMODE(st("dev/loop9").st_mode), st("dev/loop9").st_gid) == (0o660, 6)
    assert stat.S_ISCHR(st("dev/full").st_mode) and stat.S_IMODE(st("dev/full").st_mode) == 0o666
    assert stat.S_ISCHR(st("dev/null").st_mode) and st("dev/null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(st("run/initctl").st_mode) and stat.S_IMODE(st("run/initctl").st_mode) == 0o600
    assert st("run/initctl-again").st_ino == st("run/initctl").st_ino
    assert stat.S_IMODE(st("usr/bin/passwd").st_mode) == 0o4755
    assert (stat.S_IMODE(st("usr/bin/wall").st_mode), st("usr/bin/wall").st_gid) == (0o2755, 5)
    assert stat.S_IMODE(st("usr").st_mode) == stat.S_IMODE(st("usr/bin").st_mode) == 0o755
    assert os.readlink(os.path.join(root, "etc/localtime")) == "/usr/share/zoneinfo/Etc/UTC"
    assert (st("etc/localtime").st_uid, st("etc/localtime").st_mtime) == (1000, 1_600_000_000)
    assert stat.S_IMODE(st("etc/ro").st_mode) == 0o555 and stat.S_IMODE(st("etc").st_mode) == 0o750
    with open(os.path.join(root, "etc/ro/file"), "rb") as handle:
        assert handle.read() == b"read-only folder\n"
    assert st("etc/passwd").st_mtime == st("etc").st_mtime == 1_600_000_000
    assert stat.S_IMODE(st("bin/su").st_mode) == 0o4755 and st("bin/su-again").st_nlink == 2
    check_loop()
    canaries()


@pytest.mark.parametrize("tar_format", ["gnu", "posix"])
def test_a_sparse_file_keeps_its_data_and_its_holes(site, farm_dir, canaries, tar_format):
    if not shutil.which("tar"):
        pytest.skip("GNU tar writes the sparse archive (Python's tarfile cannot)")
    tree = farm_dir / "tree"
    (tree / "var").mkdir(parents=True)
    disk = tree / "var" / "disk.img"
    with open(disk, "wb") as handle:
        for offset in (0, 8 << 20, (24 << 20) - 5):
            handle.seek(offset)
            handle.write(b"data at %d" % offset)
    source = str(farm_dir / f"sparse-{tar_format}.tar")
    subprocess.run(["tar", f"--format={tar_format}", "--sparse", "-C", str(tree), "-cf", source, "."],
                   check=True, timeout=60)
    site.import_tar("alice", "sparse", source)
    copy = os.path.join(site.layout.image_path("alice/sparse"), "var/disk.img")
    with open(disk, "rb") as original, open(copy, "rb") as imported:
        assert imported.read() == original.read()
    if os.lstat(disk).st_blocks * 512 < os.lstat(disk).st_size // 2:  # the scratch FS has holes
        assert os.lstat(copy).st_blocks * 512 < os.lstat(copy).st_size // 2
    canaries()
