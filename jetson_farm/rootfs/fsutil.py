"""File-system helpers of the store: atomic JSON, fsync'd renames, locks, staging, sizes.

These act on the site server's own folders (``<root>/state``, ``<root>/images``), which the farm
owns; paths inside a rootfs go through :mod:`jetson_farm.safepath` instead.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shutil
import stat
import time
import uuid

from jetson_farm.errors import CrossDevice, JetsonError, Refused

log = logging.getLogger(__name__)

STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"


def now():
    """The current UTC time, ISO 8601 to the second (how the journal records times)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path, data):
    """Write ``data`` as JSON at ``path`` atomically: temp file, fsync, rename, fsync folder."""
    folder = os.path.dirname(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)
    fsync_dir(folder)


def read_json(path, default=None):
    """The JSON at ``path``, or ``default`` if the file does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default
    except ValueError as err:
        raise JetsonError(f"{path} is not valid JSON ({err}): fix or remove it by hand") from None


def rename(src, dst):
    """``rename(2)`` then fsync both folders, so the move survives a power cut."""
    try:
        os.rename(src, dst)
    except OSError as err:
        if err.errno == errno.EXDEV:  # e.g. a bind mount: one device, two mounts
            raise CrossDevice(f"cannot rename {src} to {dst}: they are on different mounts; put the "
                              "store and the nfsroots on one mounted file system") from None
        raise
    fsync_dir(os.path.dirname(dst))
    if os.path.dirname(src) != os.path.dirname(dst):
        fsync_dir(os.path.dirname(src))


def is_real_dir(path):
    """True if ``path`` is a folder and not a symlink."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def exists(path):
    return os.path.lexists(path)


def device_of(path):
    """``st_dev`` of ``path``, or of its nearest existing parent."""
    while True:
        try:
            return os.lstat(path).st_dev
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent == path:
                raise
            path = parent


def check_same_filesystem(store, nfsroot, board):
    """CrossDevice unless the store and ``nfsroot`` (and its parent) are on one file system."""
    store_dev = device_of(store)
    for path in (os.path.dirname(nfsroot), nfsroot):
        if exists(path) and os.lstat(path).st_dev != store_dev:
            raise CrossDevice(
                f"the store {store} and the nfsroot {nfsroot} of board {board} are on different "
                f"file systems ({path} is on device {os.major(os.lstat(path).st_dev)}:"
                f"{os.minor(os.lstat(path).st_dev)}, the store on {os.major(store_dev)}:"
                f"{os.minor(store_dev)}): a swap must be a rename(2); put them on one file system")


@contextlib.contextmanager
def exclusive_lock(path, what, wait=0, shared=False):
    """Hold a flock on ``path`` (created if missing), waiting up to ``wait`` seconds for it;
    Refused if another process still holds it then. ``shared``: a shared lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Refused(f"{what} is busy: another process is working on it now") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def is_locked(path):
    """True if some process holds a flock on ``path`` now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_dir(path):
    """Hold an exclusive flock on the folder ``path`` itself (how staging/trash say "in use")."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)


@contextlib.contextmanager
def staging_dir(images_dir):
    """A fresh folder ``<images>/.staging-*`` (same file system as the store), locked while in
    use so :func:`sweep_orphans` never takes a live one. Removed when the block ends."""
    path = os.path.join(images_dir, f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}")
    os.mkdir(path, 0o700)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield path
    finally:
        # After success it was renamed into place (or emptied); after an error, nothing stays.
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def sweep_orphans(images_dir):
    """Remove staging and trash folders that no live process holds; the names removed."""
    removed = []
    try:
        names = os.listdir(images_dir)
    except FileNotFoundError:
        return removed
    for name in sorted(names):
        if not name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
            continue
        path = os.path.join(images_dir, name)
        if not is_real_dir(path):
            continue
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(path)
            removed.append(name)
        finally:
            os.close(fd)
    return removed


def move_in_place(staging, dest, image):
    """Rename a finished staging folder to the slot ``dest``; Refused if the slot is taken."""
    os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
    if exists(dest):
        raise Refused(f"image {image} already exists in the store; remove it first or pick another name")
    try:
        rename(staging, dest)
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise Refused(f"image {image} already exists in the store") from None
        raise


def tree_bytes(path):
    """Disk usage of the tree at ``path`` in bytes (allocated blocks, hardlinks once, symlinks
    never followed), like ``du -s --block-size=1``."""
    total = 0
    seen = set()
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            continue
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(current) as entries:
                    stack.extend(entry.path for entry in entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
    return total
