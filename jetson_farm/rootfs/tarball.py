"""Import a rootfs tarball (e.g. the L4T sample rootfs) into the store.

Python's :mod:`tarfile` is used, but only after every member has passed our own checks, since
its extraction follows symlinks already on disk. A member is refused (and nothing extracted)
when it would land outside the target: an absolute path, a ``..`` component, a path at or below
a symlink member (``link -> /etc`` then ``link/passwd``), or a hardlink to a path outside the
archive, to a symlink, or through one. Extraction then runs with ``filter="fully_trusted"`` and
``numeric_owner=True``: numeric owners, modes with setuid/setgid bits and device nodes are kept,
as a rootfs needs. It happens in a staging folder under the store, renamed into place at the
end; on any error the staging folder is removed.
"""

import logging
import os
import tarfile

from jetson_farm.errors import JetsonError, NotFound, UnsafePath
from jetson_farm.names import image_ref
from jetson_farm.rootfs import fsutil

log = logging.getLogger(__name__)

ALLOWED_TYPES = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "device", tarfile.BLKTYPE: "device",
    tarfile.FIFOTYPE: "fifo",
}


def member_path(name, source):
    """The normalised relative path of a member name; UnsafePath if it would leave the target."""
    if name.startswith("/"):
        raise UnsafePath(f"{source}: member {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"{source}: member {name!r} has a '..' component")
    return "/".join(parts)


def _under_symlink(path, symlinks):
    """The symlink member that ``path`` is, or goes through, if any."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in symlinks:
            return prefix
    return None


def check_members(tar, source):
    """``(members, root)``: the members to extract (renamed to their normalised path), after
    checking every one, and the archive's own ``./`` member (or None)."""
    symlinks, seen, members = set(), set(), []
    root = None
    for member in tar.getmembers():
        kind = ALLOWED_TYPES.get(member.type)
        if kind is None:
            raise UnsafePath(f"{source}: member {member.name!r} has an unsupported type {member.type!r}")
        path = member_path(member.name, source)
        if not path:
            if member.isdir():
                root = member  # the archive's "./": its mode and owner go to the image folder
            continue
        link = _under_symlink(path, symlinks)
        if link is not None:
            raise UnsafePath(f"{source}: member {member.name!r} would be written through the "
                             f"symlink member {link!r}")
        if kind == "hardlink":
            try:
                target = member_path(member.linkname, source)
            except UnsafePath:
                raise UnsafePath(f"{source}: hardlink {member.name!r} points outside the target "
                                 f"({member.linkname!r})") from None
            if target not in seen:
                raise UnsafePath(f"{source}: hardlink {member.name!r} points to {member.linkname!r}, "
                                 "which is not an earlier member of the archive")
            if _under_symlink(target, symlinks) is not None:
                raise UnsafePath(f"{source}: hardlink {member.name!r} points to or through the "
                                 f"symlink {member.linkname!r}")
            member.linkname = target
        if kind == "symlink":
            symlinks.add(path)
        seen.add(path)
        member.name = path
        members.append(member)
    return members, root


def import_tar(site, user, name, source):
    """Extract the tarball ``source`` as the image ``user/name``; ``{image, path, members}``."""
    image = image_ref(user, name)
    slot = site.layout.image_path(image)
    if fsutil.exists(slot) or image in site.placements():
        raise JetsonError(f"image {image} already exists; remove it first or pick another name")
    if not isinstance(source, str) or not os.path.isabs(source):
        raise JetsonError(f"source {source!r} must be an absolute path to a tarball on the site server")
    if not os.path.isfile(source):
        raise NotFound(f"tarball {source} does not exist or is not a file")
    site.layout.ensure()
    try:
        with tarfile.open(source, "r:*") as tar:
            members, root = check_members(tar, source)
            with fsutil.staging_dir(site.layout.images_dir) as staging:
                # Every member passed check_members; "fully_trusted" keeps setuid bits and devices.
                tar.extractall(staging, members=members, numeric_owner=True,  # noqa: S202
                               filter="fully_trusted")
                if root is not None:
                    os.chown(staging, root.uid, root.gid)
                os.chmod(staging, root.mode & 0o7777 if root is not None else 0o755)
                with site.store_lock():
                    if image in site.placements():
                        raise JetsonError(f"image {image} already exists; remove it first or pick "
                                          "another name")
                    fsutil.move_in_place(staging, slot, image)
    except (tarfile.TarError, EOFError) as err:
        raise JetsonError(f"{source} is not a readable tarball: {err}") from None
    log.info("imported %s from %s (%d members)", image, source, len(members))
    return {"image": image, "path": slot, "members": len(members),
            "comment": f"imported {source} as {image}"}
