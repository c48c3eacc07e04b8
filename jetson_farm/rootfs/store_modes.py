"""The owners and modes of the store's own folders (docs/site-layout.md, "Owners and modes").

The farm owns ``<root>`` and the folders it keeps there: root-owned, never group- or
world-writable, so no account on the site server can plant a file the farm later trusts. The
site state makes them so; what is already right is left alone.
"""

import os
import stat

from jetson_farm.errors import Refused

# (folder below <root>, mode); "" is <root> itself. Owner root:root for all of them.
STORE_FOLDERS = (("", 0o755), ("images", 0o755), ("boards", 0o755), ("state", 0o755),
                 ("attic", 0o700))


def _check_folder(path, may_be_link):
    """The lstat of ``path`` (None if missing); Refused for a symlink (below <root>) or a non-folder."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        if may_be_link and os.path.isdir(path):
            return os.stat(path)
        raise Refused(f"{path} is a symlink: the store's folders must be real folders")
    if not stat.S_ISDIR(info.st_mode):
        raise Refused(f"{path} is not a folder: move it away, then apply the site state again")
    return info


def plan(root):
    """``(missing, fixes)``: the store folders to create, and ``{path: what to fix}`` of those that
    exist with another owner or mode. Refused for a symlink or a file where a folder must be."""
    missing, fixes = [], {}
    for relpath, mode in STORE_FOLDERS:
        path = os.path.join(root, relpath) if relpath else root
        # <root> is the admin's setting and may be a symlink to a bigger disk; below it, never.
        info = _check_folder(path, may_be_link=not relpath)
        if info is None:
            missing.append(path)
            continue
        wrong = []
        if (info.st_uid, info.st_gid) != (0, 0):
            wrong.append(f"owner {info.st_uid}:{info.st_gid} -> 0:0")
        if stat.S_IMODE(info.st_mode) != mode:
            wrong.append(f"mode {stat.S_IMODE(info.st_mode):04o} -> {mode:04o}")
        if wrong:
            fixes[path] = ", ".join(wrong)
    return missing, fixes


def apply(root):
    """Create the missing store folders and set every one's owner and mode; what was done."""
    missing, fixes = plan(root)
    for relpath, mode in STORE_FOLDERS:
        path = os.path.join(root, relpath) if relpath else root
        if path in missing:
            os.makedirs(path, mode=mode, exist_ok=True)
        if path in missing or path in fixes:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (os.O_NOFOLLOW if relpath else 0)
            fd = os.open(path, flags)
            try:
                os.fchown(fd, 0, 0)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
    return missing, fixes
