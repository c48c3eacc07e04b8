"""A real file system on a loop device, for the tests that depend on what a file system can do
(reflink clones on btrfs and XFS, full copies on ext4). Needs root; always unmounted and
detached, even when the test fails."""

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid

from tests.conftest import SCRATCH

MKFS = {"btrfs": ["mkfs.btrfs", "-q", "-f"], "xfs": ["mkfs.xfs", "-q", "-f", "-m", "reflink=1"],
        "ext4": ["mkfs.ext4", "-q", "-F"]}
SIZE_MB = {"btrfs": 320, "xfs": 320, "ext4": 320}  # mkfs.xfs wants at least 300 MB


def missing(kind):
    """Why a ``kind`` file system cannot be made here, or None."""
    if os.geteuid() != 0:
        return "loop mounts need root"
    if shutil.which(MKFS[kind][0]) is None:
        return f"{MKFS[kind][0]} is not installed (scripts/setup.sh installs it)"
    with open("/proc/filesystems") as handle:
        if kind not in handle.read():
            return f"this kernel has no {kind}"
    return None


def _run(argv):
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def loop_filesystem(kind, size_mb=None):
    """A fresh ``kind`` file system mounted on a folder (yielded), from a sparse file."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    base = tempfile.mkdtemp(prefix=f"loop-{kind}-", dir=SCRATCH)
    image, mount = os.path.join(base, "fs.img"), os.path.join(base, "mnt")
    os.mkdir(mount)
    device = None
    try:
        with open(image, "wb") as handle:
            handle.truncate((size_mb or SIZE_MB[kind]) * 1024 * 1024)
        _run([*MKFS[kind], image])
        device = subprocess.run(["losetup", "--find", "--show", image], check=True, capture_output=True,
                                text=True, timeout=60).stdout.strip()
        _run(["mount", device, mount])
        try:
            yield mount
        finally:
            _run(["umount", mount])
    finally:
        if device:
            _run(["losetup", "-d", device])
        shutil.rmtree(base, ignore_errors=True)


def fill(path, size_mb):
    """A file of ``size_mb`` MB of non-repeating bytes (cheap to make, not compressible away)."""
    chunk = uuid.uuid4().bytes * (1024 * 1024 // 16)
    with open(path, "wb") as handle:
        for i in range(size_mb):
            handle.write(i.to_bytes(8, "little") + chunk[8:])
    return path


def shares_extents(path):
    """Whether ``filefrag -v`` marks any extent of ``path`` as shared with another file."""
    out = subprocess.run(["filefrag", "-v", path], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return any("shared" in line.split()[-1] for line in out.splitlines() if ":" in line and ".." in line)


def free_bytes(mount):
    subprocess.run(["sync", "-f", mount], check=True, timeout=60)
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize
