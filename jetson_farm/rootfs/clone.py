"""Clone an image: a reflink copy where the file system can, else a full copy.

Where the store's file system shares extents between files (btrfs, XFS with reflink), the copy
is ``cp -a --reflink=always``: seconds for any size, and no block is written until one side
changes it. Elsewhere (ext4) it is ``cp -a --reflink=never``, a full copy. Which one is found
out before the copy by cloning a scratch file with the FICLONE ioctl in the store itself
(:func:`reflink_works`). Either way the copy goes to a staging folder under the store that is
renamed into place at the end; on failure the staging folder is removed.

Only a parked image is cloned: one at an nfsroot holds the board's injected identity (its keys),
which must not leak into a copy. Every clone leaves a record of where it came from,
``<root>/state/copies/<user>@<name>.json`` (docs/site-layout.md): how a working copy of a shared
image (a template, docs/architecture.md "The site server") is told from other images.
"""

import errno
import fcntl
import logging
import os
import subprocess
import tempfile
import time

from jetson_farm.errors import JetsonError, NotFound, Refused
from jetson_farm.names import parse_image
from jetson_farm.rootfs import fsutil

log = logging.getLogger(__name__)

CLONE_TIMEOUT = 6 * 3600  # seconds: a full copy of a large rootfs on slow disks
FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
PROGRESS_EVERY = 2.0  # seconds between two progress reports of a running copy


def clone(site, src, dst, timeout=None, report=None):
    """Copy the parked image ``src`` to the new image ``dst``.

    ``report(done_bytes, total_bytes)`` is called as the copy goes. Returns ``{image, source,
    path, method ("reflink" or "copy"), bytes, seconds, comment}``.
    """
    parse_image(src)
    parse_image(dst)
    site.layout.ensure()
    with site.image_lock(src, shared=True):
        return _clone(site, src, dst, timeout, report)


def _clone(site, src, dst, timeout, report):
    board = site.placements().get(src)
    if board:
        raise Refused(f"image {src} is at the nfsroot of board {board} with its identity injected: "
                      "park it before cloning")
    src_path = site.layout.image_path(src)
    if not fsutil.is_real_dir(src_path):
        raise NotFound(f"image {src} does not exist in the store ({src_path})")
    dst_path = site.layout.image_path(dst)
    if fsutil.exists(dst_path) or dst in site.placements():
        raise JetsonError(f"image {dst} already exists; remove it first or pick another name")
    started = time.monotonic()
    total = fsutil.tree_bytes(src_path)
    _, method = copy_into_store(site, src_path, dst, timeout=timeout, what=f"cloning {src} to {dst}",
                                report=report, total=total)
    seconds = round(time.monotonic() - started, 3)
    record(site, dst, src, method, total)
    log.info("cloned %s to %s (%s, %d bytes, %.1fs)", src, dst, method, total, seconds)
    return {"image": dst, "source": src, "path": dst_path, "method": method, "bytes": total,
            "seconds": seconds, "comment": f"cloned {src} to {dst} ({method})"}


def reflink_works(folder):
    """Whether files in ``folder`` can share their extents: one FICLONE of a scratch file."""
    with tempfile.TemporaryDirectory(prefix=".reflink-probe-", dir=folder) as scratch:
        src, dst = os.path.join(scratch, "a"), os.path.join(scratch, "b")
        with open(src, "wb") as handle:
            handle.write(b"\0" * 4096)
        with open(src, "rb") as source, open(dst, "wb") as target:
            try:
                fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            except OSError as err:
                log.debug("no reflink in %s: %s", folder, errno.errorcode.get(err.errno, err.errno))
                return False
    return True


def copy_into_store(site, src_path, dst, timeout=None, what=None, report=None, total=None):
    """Copy the tree ``src_path`` into the store as the new image ``dst`` (staging, then one
    rename); nothing stays behind on failure. Also how a built image is registered.

    Returns ``(path, method)``: the new slot and ``"reflink"`` or ``"copy"``.
    """
    what = what or f"copying {src_path} to {dst}"
    dst_path = site.layout.image_path(dst)
    site.layout.ensure()
    with fsutil.staging_dir(site.layout.images_dir) as staging:
        method = "reflink" if reflink_works(staging) else "copy"
        target = os.path.join(staging, "image")
        cmd = ["cp", "-a", f"--reflink={'always' if method == 'reflink' else 'never'}", "-T", "--",
               src_path, target]
        _run_copy(cmd, target, what, timeout or CLONE_TIMEOUT, report, total)
        with site.store_lock():
            fsutil.move_in_place(target, dst_path, dst)
    return dst_path, method


def _run_copy(cmd, target, what, timeout, report, total):
    """Run ``cmd`` for at most ``timeout`` s; while it runs, ``report(bytes at target, total)``
    every PROGRESS_EVERY s, or less often when walking the target takes long (a walk of a large
    tree must not become the copy's own load)."""
    deadline = time.monotonic() + timeout
    interval = PROGRESS_EVERY
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        while True:
            left = max(0.0, deadline - time.monotonic())
            try:
                _, stderr = proc.communicate(timeout=min(interval, left) if report else left)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    raise JetsonError(f"{what} took more than {timeout}s; nothing was kept") from None
                walked = time.monotonic()
                report(fsutil.tree_bytes(target), total)
                interval = max(PROGRESS_EVERY, 10 * (time.monotonic() - walked))
    if proc.returncode != 0:
        raise JetsonError(f"{what} failed (cp exited {proc.returncode}): {stderr.strip()[-500:]}")
    if report:
        report(total, total)


# -- where an image came from -------------------------------------------------------------------


def _record_path(site, image):
    user, name = parse_image(image)
    return os.path.join(site.layout.state_dir, "copies", f"{user}@{name}.json")


def record(site, image, source, method, size):
    """Write down that ``image`` was cloned from ``source`` (with the top folder's inode, so a
    later image of the same name is never taken for this copy)."""
    path = _record_path(site, image)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fsutil.write_json(path, {"image": image, "template": source, "method": method, "bytes": size,
                             "made": fsutil.now(), "inode": os.lstat(site.layout.image_path(image)).st_ino})


def origin(site, image, path=None):
    """The record of ``image`` (``{image, template, method, bytes, made}``) if it is a clone, else
    None. ``path``: where the image is now (its slot or a board's nfsroot; the inode is the same)."""
    data = fsutil.read_json(_record_path(site, image), default=None)
    if not isinstance(data, dict):
        return None
    try:
        inode = os.lstat(path or site.layout.image_path(image)).st_ino
    except OSError:
        return None
    if data.get("inode") != inode:
        return None
    return {key: data.get(key) for key in ("image", "template", "method", "bytes", "made")}


def forget(site, image):
    """Drop the record of ``image`` (it is removed)."""
    try:
        os.unlink(_record_path(site, image))
    except FileNotFoundError:
        pass
