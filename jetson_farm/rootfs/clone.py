"""Clone an image: a reflink copy where the file system can, else a full copy.

``cp -a --reflink=auto`` (an argument list, no shell) copies into a staging folder under the
store, which is renamed into place at the end; on failure the staging folder is removed. Only a
parked image is cloned: one at an nfsroot holds the board's injected identity (its keys), which
must not leak into a copy.
"""

import logging
import os
import subprocess

from jetson_farm.errors import JetsonError, NotFound, Refused
from jetson_farm.names import parse_image
from jetson_farm.rootfs import fsutil

log = logging.getLogger(__name__)

CLONE_TIMEOUT = 6 * 3600  # seconds: a full copy of a large rootfs on slow disks


def clone(site, src, dst, timeout=None):
    """Copy the parked image ``src`` to the new image ``dst``; ``{image, source, path}``."""
    parse_image(src)
    parse_image(dst)
    site.layout.ensure()
    with site.image_lock(src, shared=True):
        return _clone(site, src, dst, timeout)


def _clone(site, src, dst, timeout):
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
    copy_into_store(site, src_path, dst, timeout=timeout, what=f"cloning {src} to {dst}")
    log.info("cloned %s to %s", src, dst)
    return {"image": dst, "source": src, "path": dst_path, "comment": f"cloned {src} to {dst}"}


def copy_into_store(site, src_path, dst, timeout=None, what=None):
    """Copy the tree ``src_path`` into the store as the new image ``dst`` (staging, then one
    rename); nothing stays behind on failure. Also how a built image is registered."""
    what = what or f"copying {src_path} to {dst}"
    dst_path = site.layout.image_path(dst)
    site.layout.ensure()
    with fsutil.staging_dir(site.layout.images_dir) as staging:
        target = os.path.join(staging, "image")
        cmd = ["cp", "-a", "--reflink=auto", "-T", "--", src_path, target]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  timeout=timeout or CLONE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise JetsonError(f"{what} took more than {timeout or CLONE_TIMEOUT}s; "
                              "nothing was kept") from None
        if proc.returncode != 0:
            raise JetsonError(f"{what} failed (cp exited {proc.returncode}): "
                              f"{proc.stderr.strip()[-500:]}")
        with site.store_lock():
            fsutil.move_in_place(target, dst_path, dst)
    return dst_path
