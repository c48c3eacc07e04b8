"""How far an import has read its tarball, for the progress lines of large files.

The store's :func:`~jetson_farm.rootfs.tarball.import_tar` opens the tarball itself and says
nothing while it reads; its progress is the read position of its file descriptor on the same
file, which Linux shows in ``/proc/self/fdinfo``. It reads the file twice (the checks of every
member, then the extraction), so a position that jumps back starts the second pass.
"""

import contextlib
import os
import threading

POLL_SECONDS = 0.25
PHASES = ("checking", "writing")


class Passes:
    """The phase of a reader that reads the file once per phase, from its read positions."""

    def __init__(self):
        self.index, self.last = 0, 0

    def update(self, position):
        if position < self.last // 2 and self.index + 1 < len(PHASES):
            self.index += 1
        self.last = position
        return PHASES[self.index]


def position_of_other_reader(fd):
    """The largest read position of another fd of this process open on the file of ``fd``, or
    None when there is none."""
    st = os.fstat(fd)
    best = None
    for name in os.listdir("/proc/self/fd"):
        if name == str(fd):
            continue
        try:
            other = os.stat(f"/proc/self/fd/{name}")
            if (other.st_dev, other.st_ino) != (st.st_dev, st.st_ino):
                continue
            with open(f"/proc/self/fdinfo/{name}", encoding="ascii") as info:
                position = int(info.readline().split()[1])  # "pos:\t<bytes>"
        except (OSError, ValueError, IndexError):
            continue  # closed meanwhile, or not ours to read
        best = position if best is None else max(best, position)
    return best


@contextlib.contextmanager
def watch_reads(fd, report):
    """While the block runs, ``report(phase, position, size)`` a few times a second for the other
    reader of the file open at ``fd``; ``checking`` at 0 first, ``writing`` at 100% when it ends
    well."""
    if report is None:
        yield
        return
    size = os.fstat(fd).st_size
    done = threading.Event()
    passes = Passes()

    def watch():
        while not done.wait(POLL_SECONDS):
            position = position_of_other_reader(fd)
            if position is not None:
                report(passes.update(position), position, size)

    report(PHASES[0], 0, size)
    thread = threading.Thread(target=watch, name="jetson-image-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
    report(PHASES[-1], size, size)
