"""How far an import has read its tarball: the sizes pass here, then the store's own passes.

The store's :func:`~jetson_farm.rootfs.tarball.import_tar` opens the tarball itself and says
nothing while it reads; its progress is the read position of its file descriptor on the same
file, which Linux shows in ``/proc/self/fdinfo``. It reads the file twice (the checks, then the
extraction), so a position that jumps back starts the next pass.
"""

import contextlib
import os
import tarfile
import threading

from jetson_farm.errors import JetsonError
from jetson_farm.rootfs import untar

POLL_SECONDS = 1.0
PHASES = ("checking", "writing")


def tarball_bytes(fd, shown, report=None):
    """The sum of the regular members' sizes of the tarball open at ``fd`` (read from the start,
    through any compression): what the image will hold, known before a byte is written."""
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    total = 0
    try:
        with open(fd, "rb", closefd=False) as handle, tarfile.open(fileobj=handle, mode="r:*") as tar:
            for member in tar:
                if member.isreg():
                    total += member.size
                if report:
                    report("sizing", os.lseek(fd, 0, os.SEEK_CUR), size)
    except untar.READ_ERRORS as err:
        raise JetsonError(f"{shown} is not a readable tarball: {untar.reason(err)}; nothing was "
                          "imported") from None
    if report:
        report("sizing", size, size)
    return total


def _position_of_other_reader(fd, identity):
    """The largest read position of another fd of this process open on the same file, or None."""
    best = None
    for name in os.listdir("/proc/self/fd"):
        if name == str(fd):
            continue
        try:
            st = os.stat(f"/proc/self/fd/{name}")
            if (st.st_dev, st.st_ino) != identity:
                continue
            with open(f"/proc/self/fdinfo/{name}", encoding="ascii") as info:
                pos = int(info.readline().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        best = pos if best is None else max(best, pos)
    return best


@contextlib.contextmanager
def watch_reads(fd, report):
    """While the block runs, ``report(phase, position, size)`` about every second for the other
    reader of the file open at ``fd``."""
    if report is None:
        yield
        return
    st = os.fstat(fd)
    done = threading.Event()

    def watch():
        phase, last = 0, 0
        while not done.wait(POLL_SECONDS):
            pos = _position_of_other_reader(fd, (st.st_dev, st.st_ino))
            if pos is None:
                continue
            if pos < last // 2 and phase + 1 < len(PHASES):
                phase += 1
            last = pos
            report(PHASES[phase], pos, st.st_size)

    thread = threading.Thread(target=watch, name="jetson-image-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
