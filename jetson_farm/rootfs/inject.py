"""Reversible injection into a rootfs, with the originals kept outside it.

Before the first write, the originals of what a booted board makes of itself
(:data:`~jetson_farm.rootfs.identity.BOARD_MADE`, and what the folders of
:data:`~jetson_farm.rootfs.identity.BOARD_MADE_IN` hold) are saved the same way, so the park puts
them back and removes what the board added there: a parked image carries no board's identity.
Before each write the original (its bytes, mode, owner, times), or the fact that the file or a
folder did not exist, is recorded under ``<root>/state/<board>.saved/`` (``manifest.json`` plus
``blobs/<n>``), and the manifest is rewritten atomically. So an interrupted injection or
restore can simply be run again: an entry already in the manifest is never saved twice (the
file may already hold the farm's bytes), and restoring twice gives the same result.
"""

import logging
import os
import shutil

from jetson_farm.errors import JetsonError, UnsafePath
from jetson_farm.rootfs import fsutil
from jetson_farm.rootfs.crash import crash_point
from jetson_farm.rootfs.identity import BOARD_MADE, BOARD_MADE_IN, dir_mode
from jetson_farm.safepath import TEMP_SUFFIX, SafeRoot

log = logging.getLogger(__name__)

FILE, ABSENT, DIR_CREATED = "file", "absent", "dir-created"
LEFT = "left"  # a board-made path that was no regular file (a symlink?) or too large: never touched
# The most an original the swap saves may hold: ids and keys are bytes, a huge (or sparse) file
# at one of those paths is the image owner's attempt on the site's disk. A board-made one is
# left as it is; one the swap must replace refuses the swap before anything moves.
ORIGINAL_MAX = 1 << 20


class SavedOriginals:
    """The folder ``<root>/state/<board>.saved/`` of one board."""

    def __init__(self, path):
        self.path = path
        self.manifest_path = os.path.join(path, "manifest.json")
        self.blobs = os.path.join(path, "blobs")

    def load(self):
        return fsutil.read_json(self.manifest_path)

    def save(self, manifest):
        fsutil.write_json(self.manifest_path, manifest)

    def start(self, image, switch_id):
        shutil.rmtree(self.path + ".discard", ignore_errors=True)
        manifest = self.load()
        if manifest is None:
            os.makedirs(self.blobs, mode=0o700, exist_ok=True)
            # board_made: the entries include what the board makes, so the park may sweep.
            manifest = {"image": image, "switch_id": switch_id, "board_made": True, "entries": []}
            self.save(manifest)
        elif manifest.get("image") != image:
            raise JetsonError(f"{self.manifest_path} holds the originals of {manifest.get('image')}, "
                              f"not of {image}: run reconcile, or fix it by hand")
        return manifest

    def discard(self):
        """Forget the originals: one rename (atomic), then the removal."""
        if os.path.isdir(self.path):
            fsutil.rename(self.path, self.path + ".discard")
        shutil.rmtree(self.path + ".discard", ignore_errors=True)


def preflight(rootfs, label, items):
    """UnsafePath unless every item of ``items`` could be written into ``rootfs`` safely, its
    original (saved first) at most ORIGINAL_MAX bytes."""
    with SafeRoot(rootfs, label=label) as root:
        for item in items:
            root.check_writable(item.relpath, max_size=ORIGINAL_MAX)


def inject(rootfs, label, items, saved, image, switch_id):
    """Write ``items`` into ``rootfs``, saving each original first; the relpaths written."""
    manifest = saved.start(image, switch_id)
    known = {entry["path"] for entry in manifest["entries"]}

    def record(entry):
        manifest["entries"].append(entry)
        known.add(entry["path"])
        saved.save(manifest)

    def create_dir(relpath):
        if relpath not in known:
            record({"path": relpath, "kind": DIR_CREATED})
            crash_point(f"inject-mkdir:{relpath}")
        return dir_mode(relpath)

    def save_original(root, relpath):
        blob = str(len(manifest["entries"]))
        st = root.copy_out(relpath, os.path.join(saved.blobs, blob), max_size=ORIGINAL_MAX)
        if st is None:
            record({"path": relpath, "kind": ABSENT})
        else:
            record({"path": relpath, "kind": FILE, "blob": blob,
                    "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid,
                    "times_ns": [st.st_atime_ns, st.st_mtime_ns]})
        crash_point(f"inject-saved:{relpath}")

    written = []
    with SafeRoot(rootfs, label=label) as root:
        for relpath in _board_made_paths(root):
            if relpath not in known:
                try:
                    save_original(root, relpath)
                except UnsafePath as err:
                    log.info("leaving %s in %s as it is: %s", relpath, label, err)
                    record({"path": relpath, "kind": LEFT})
        for item in items:
            if item.relpath not in known:
                save_original(root, item.relpath)
            root.write_file(item.relpath, item.data, item.mode, create=create_dir,
                            before_rename=lambda p=item.relpath: crash_point(f"inject-write:{p}"))
            crash_point(f"injected:{item.relpath}")
            written.append(item.relpath)
    return written


def _board_made_paths(root):
    """The board-made paths to save: the fixed ones, and what the image has in those folders."""
    paths = list(BOARD_MADE)
    for folder, pattern in BOARD_MADE_IN:
        try:
            names = root.listdir(folder)
        except UnsafePath:
            continue  # nothing of a folder we cannot enter is saved, nor swept at the park
        paths += [f"{folder}/{name}" for name in sorted(names)
                  if pattern.match(name) and not name.endswith(TEMP_SUFFIX)]
    return paths


def _sweep(root, entries):
    """Remove what the board added in the folders of BOARD_MADE_IN (never following a link);
    ``(removed, not_removed)``."""
    known = {entry["path"] for entry in entries}
    removed, not_removed = [], []
    for folder, pattern in BOARD_MADE_IN:
        try:
            names = root.listdir(folder)
        except UnsafePath as err:
            not_removed.append(f"{folder}: {err}")
            continue
        for name in sorted(names):
            relpath = f"{folder}/{name}"
            if pattern.match(name) and relpath not in known and root.unlink(relpath):
                removed.append(relpath)
    return removed, not_removed


def restore(rootfs, label, saved, image):
    """Put back every original recorded for ``image``; ``(restored, not_restored)`` relpaths.

    A path the user made unsafe meanwhile (a symlink on the way) is not followed: it is left as
    it is and reported in ``not_restored``, so a hostile rootfs cannot block its own parking.
    """
    manifest = saved.load()
    if manifest is None:
        saved.discard()
        return [], []
    if manifest.get("image") != image:
        raise JetsonError(f"{saved.manifest_path} holds the originals of {manifest.get('image')}, "
                          f"not of {image}: run reconcile, or fix it by hand")
    restored, not_restored = [], []
    entries = manifest["entries"]
    files = [e for e in entries if e["kind"] not in (DIR_CREATED, LEFT)]
    dirs = sorted((e for e in entries if e["kind"] == DIR_CREATED),
                  key=lambda e: e["path"].count("/"), reverse=True)
    with SafeRoot(rootfs, label=label) as root:
        for entry in reversed(files):
            path = entry["path"]
            crash_point(f"restore:{path}")
            try:
                if entry["kind"] == FILE:
                    with open(os.path.join(saved.blobs, entry["blob"]), "rb") as handle:
                        data = handle.read()
                    root.write_file(path, data, entry["mode"], uid=entry["uid"], gid=entry["gid"],
                                    times_ns=entry["times_ns"], create=dir_mode,
                                    before_rename=lambda p=path: crash_point(f"restore-write:{p}"))
                else:
                    root.unlink(path)
                    root.discard_temp(path)  # a write of ours cut short may have left it
                restored.append(path)
            except UnsafePath as err:
                log.warning("not restoring %s in %s: %s", path, label, err)
                not_restored.append(f"{path}: {err}")
        if manifest.get("board_made"):
            crash_point("restore-sweep")
            removed, not_removed = _sweep(root, entries)
            restored += removed
            not_restored += not_removed
        for entry in dirs:
            crash_point(f"restore-dir:{entry['path']}")
            try:
                root.rmdir_if_empty(entry["path"])
            except UnsafePath as err:
                not_restored.append(f"{entry['path']}: {err}")
    saved.discard()
    return restored, not_restored
