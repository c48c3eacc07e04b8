"""Import a rootfs tarball (e.g. the L4T sample rootfs) into the store.

Python's :mod:`tarfile` parses the archive; it never extracts. Every member is checked first,
over the whole member list, and the archive is refused (nothing extracted) when a member would
land outside the target: an absolute path, a ``..`` component, a path at or below a symlink
member (``link -> /etc`` then ``link/passwd``), or a hardlink to a path outside the archive, to a
symlink, or through one. It is refused too when a path comes twice and the first one is not a
folder (a device node, FIFO or file, then a file of the same name), when a member sits below a
non-folder member (``etc/foo`` then ``etc/foo/bar``), and when the archive ends early.

:mod:`jetson_farm.rootfs.untar` then writes the members itself, never opening or following a
node already on disk, so even a check missed here cannot write outside the image. Numeric
owners, modes with setuid/setgid bits, device nodes and FIFOs are kept, as a rootfs needs;
nothing on the site server ever opens them. It happens in a staging folder under the store,
renamed into place at the end; on any error the staging folder is removed.
"""

import logging
import os
import stat
import tarfile

from jetson_farm.errors import JetsonError, NotFound, UnsafePath
from jetson_farm.names import image_ref
from jetson_farm.rootfs import fsutil, untar

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


def _check_place(name, path, kind, kinds, source):
    """UnsafePath unless ``path`` may be created: no earlier symlink or other non-folder member
    at it or above it, and no earlier member of the same path unless both are folders."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        above = kinds.get(prefix)
        if above == "symlink":
            raise UnsafePath(f"{source}: member {name!r} would be written through the symlink "
                             f"member {prefix!r}")
        if above is not None and i < len(parts) and above != "dir":
            raise UnsafePath(f"{source}: member {name!r} would be written below {prefix!r}, "
                             f"which an earlier member makes a {above}, not a folder")
    earlier = kinds.get(path)
    if earlier is not None and not earlier == kind == "dir":
        raise UnsafePath(f"{source}: member {name!r} comes twice in the archive (first as a "
                         f"{earlier}); refusing to replace it")
    for i in range(1, len(parts)):
        kinds.setdefault("/".join(parts[:i]), "dir")  # a parent no member names yet is made


def check_members(tar, source):
    """``(members, root)``: the members to extract (renamed to their normalised path), after
    checking every one, and the archive's own ``./`` member (or None)."""
    kinds, members = {}, []
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
        _check_place(member.name, path, kind, kinds, source)
        if kind == "hardlink":
            member.linkname = _hardlink_target(member, kinds, source)
        kinds[path] = kind
        member.name = path
        members.append(member)
    return members, root


def _hardlink_target(member, kinds, source):
    try:
        target = member_path(member.linkname, source)
    except UnsafePath:
        raise UnsafePath(f"{source}: hardlink {member.name!r} points outside the target "
                         f"({member.linkname!r})") from None
    if target not in kinds:
        raise UnsafePath(f"{source}: hardlink {member.name!r} points to {member.linkname!r}, "
                         "which is not an earlier member of the archive")
    parts = target.split("/")
    if any(kinds.get("/".join(parts[:i])) == "symlink" for i in range(1, len(parts) + 1)):
        raise UnsafePath(f"{source}: hardlink {member.name!r} points to or through the "
                         f"symlink {member.linkname!r}")
    if kinds[target] == "dir":
        raise UnsafePath(f"{source}: hardlink {member.name!r} points to the folder {member.linkname!r}")
    return target


def _check_complete(tar, source, members):
    """JetsonError unless the archive ends with its end-of-archive block and its compressed
    stream ends whole: tarfile takes a missing or garbled header after the first one for the
    end, so an archive cut short between two members would otherwise import as a smaller image."""
    tar.fileobj.seek(tar.offset)
    if tar.fileobj.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
        last = members[-1].name if members else None
        raise JetsonError(f"{source} is not a readable tarball: it ends early or is damaged after "
                          f"member {last!r} (no end-of-archive block at byte {tar.offset}); "
                          "nothing was imported")
    while tar.fileobj.read(untar.COPY_BUFSIZE):
        pass  # a gzip/bz2/xz stream checks its own end (and gzip its CRC) only when read to it


def _open_source(source):
    """The tarball as a binary file; opened without blocking, so a FIFO put there after the
    checks cannot stall the import, and refused unless it is a regular file."""
    fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    handle = open(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise NotFound(f"tarball {source} does not exist or is not a file")
    return handle


def _read_members(raw, source):
    """``(tar, members, root)`` of the checked archive; JetsonError if it cannot be read whole."""
    try:
        tar = tarfile.open(name=source, fileobj=raw, mode="r:*")
        try:
            members, root = check_members(tar, source)
            _check_complete(tar, source, members)
        except BaseException:
            tar.close()
            raise
    except untar.READ_ERRORS as err:
        raise JetsonError(f"{source} is not a readable tarball: {untar.reason(err)}; "
                          "nothing was imported") from None
    return tar, members, root


def import_tar(site, user, name, source, before_write=None):
    """Extract the tarball ``source`` as the image ``user/name``; ``{image, path, members}``.

    ``before_write(members)``, if given, sees the checked members before anything is written (a
    quota check); what it raises ends the import with nothing written.
    """
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
        with _open_source(source) as raw:
            tar, members, root = _read_members(raw, source)
            if before_write is not None:
                try:
                    before_write(members)
                except BaseException:
                    tar.close()
                    raise
            with tar, fsutil.staging_dir(site.layout.images_dir) as staging:
                root_fd = os.open(staging, untar.DIR_FLAGS)
                try:
                    untar.extract(tar, members, root_fd, source)
                    if root is not None:
                        untar.set_fd_attrs(root_fd, root)
                    else:
                        os.fchmod(root_fd, untar.IMPLICIT_DIR_MODE)
                finally:
                    os.close(root_fd)
                with site.store_lock():
                    if image in site.placements():
                        raise JetsonError(f"image {image} already exists; remove it first or pick "
                                          "another name")
                    fsutil.move_in_place(staging, slot, image)
    except JetsonError:
        raise
    except OSError as err:  # the source gone, the store full or read-only
        raise JetsonError(f"importing {source} as {image} failed: {untar.reason(err)}; "
                          "nothing was imported") from None
    log.info("imported %s from %s (%d members)", image, source, len(members))
    return {"image": image, "path": slot, "members": len(members),
            "comment": f"imported {source} as {image}"}
