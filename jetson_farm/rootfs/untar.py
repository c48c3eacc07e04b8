"""Write checked tar members into a fresh folder without ever following or opening a node on disk.

``tarfile``'s own extraction opens a regular-file member's path as it finds it, so a node an
earlier member left there (a block device, ``/dev/full``, a FIFO) is written through, or blocks.
Here every name is made relative to a directory fd opened with ``O_DIRECTORY|O_NOFOLLOW``, and
made exclusively: files with ``O_CREAT|O_EXCL|O_NOFOLLOW``, device nodes with ``mknod`` and
FIFOs with ``mkfifo`` (never opened), symlinks with ``symlinkat``, hardlinks with ``linkat``
without following. A name that already exists is an error, never replaced or opened. Owners,
modes and times go through the new file's fd, or ``follow_symlinks=False``. Folders get theirs
last, deepest first, as tar does, so a read-only folder never blocks its own content.
"""

import errno
import lzma
import os
import stat
import tarfile
import zlib

from jetson_farm.errors import JetsonError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_BUFSIZE = 1 << 20
IMPLICIT_DIR_MODE = 0o755  # a parent folder no member names
# What reading a damaged or truncated archive raises, from tarfile or the decompressors.
READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)


class ArchiveEnded(Exception):
    """The archive could not give a member's data: cut short or damaged."""


def reason(err):
    return err.strerror if isinstance(err, OSError) and err.strerror else str(err)


class DirFds:
    """Directory fds along one path below ``root_fd``, kept while the next members share it
    (archives list a folder's content together), closed as the path moves on."""

    def __init__(self, root_fd, made=None):
        self.root_fd = root_fd
        self.chain = []  # [(name, fd)], from the root down
        self.made = made  # {path: None} gets each parent made here; None: make nothing

    def get(self, parts):
        """The fd of the folder ``parts`` (names below the root)."""
        keep = 0
        while keep < min(len(self.chain), len(parts)) and self.chain[keep][0] == parts[keep]:
            keep += 1
        self._close_from(keep)
        for name in parts[keep:]:
            parent = self.chain[-1][1] if self.chain else self.root_fd
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if self.made is None:
                    raise
                os.mkdir(name, 0o700, dir_fd=parent)
                self.made.setdefault("/".join(parts[:len(self.chain) + 1]), None)
                fd = os.open(name, DIR_FLAGS, dir_fd=parent)
            self.chain.append((name, fd))
        return self.chain[-1][1] if self.chain else self.root_fd

    def _close_from(self, keep):
        while len(self.chain) > keep:
            os.close(self.chain.pop()[1])

    def close(self):
        self._close_from(0)


def _owner(member):
    # As tarfile does: only root can give files away; anyone else keeps them as their own.
    return (member.uid, member.gid) if os.geteuid() == 0 else None


def set_fd_attrs(fd, member):
    """Owner, then mode (a chown clears setuid bits), then times, through the node's own fd."""
    owner = _owner(member)
    if owner:
        os.fchown(fd, *owner)
    os.fchmod(fd, member.mode & 0o7777)
    os.utime(fd, (member.mtime, member.mtime))


def _copy(src, fd, offset, size):
    """Copy ``size`` bytes of the archive from ``offset`` to ``fd``; a failed read is
    ArchiveEnded, so it is not taken for a failed write."""
    try:
        src.seek(offset)
    except READ_ERRORS as err:
        raise ArchiveEnded(reason(err)) from None
    while size:
        try:
            chunk = src.read(min(size, COPY_BUFSIZE))
        except READ_ERRORS as err:
            raise ArchiveEnded(reason(err)) from None
        if not chunk:
            raise ArchiveEnded("unexpected end of data")
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
        size -= len(chunk)


def _write_file(tar, member, parent, name):
    fd = os.open(name, FILE_FLAGS, 0o600, dir_fd=parent)
    try:
        if member.sparse is None:
            _copy(tar.fileobj, fd, member.offset_data, member.size)
        else:  # the archive holds the data blocks one after another; the holes stay holes
            at = member.offset_data
            for offset, size in member.sparse:
                os.lseek(fd, offset, os.SEEK_SET)
                _copy(tar.fileobj, fd, at, size)
                at += size
            os.ftruncate(fd, member.size)
        set_fd_attrs(fd, member)
    finally:
        os.close(fd)


def _make_node(member, parent, name):
    """A device node or FIFO, made and given its attributes without ever being opened."""
    if member.isfifo():
        kind = stat.S_IFIFO
        os.mkfifo(name, 0o600, dir_fd=parent)
    else:
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
    owner = _owner(member)
    if owner:
        os.chown(name, *owner, dir_fd=parent, follow_symlinks=False)
    # Linux has no lchmod: chmod the node through an O_PATH fd, which opens nothing.
    path_fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    try:
        if stat.S_IFMT(os.fstat(path_fd).st_mode) != kind:
            raise OSError(errno.EEXIST, "replaced while being extracted")
        os.chmod(f"/proc/self/fd/{path_fd}", member.mode & 0o7777)
    finally:
        os.close(path_fd)
    os.utime(name, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)


def _make_dir(parent, name):
    try:
        os.mkdir(name, 0o700, dir_fd=parent)
    except FileExistsError:
        if not stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
            raise


def _make_symlink(member, parent, name):
    os.symlink(member.linkname, name, dir_fd=parent)
    owner = _owner(member)
    if owner:
        os.chown(name, *owner, dir_fd=parent, follow_symlinks=False)
    os.utime(name, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)


def extract(tar, members, root_fd, source):
    """Create ``members`` (checked, named by their normalised path) below the folder ``root_fd``.

    A hardlink keeps the attributes of the file it names, as GNU tar does. Raises JetsonError
    naming the member on any failure; the caller removes the half-made folder.
    """
    dirs = {}  # path: its member, or None for a parent no member names
    fds, link_fds = DirFds(root_fd, made=dirs), DirFds(root_fd)
    try:
        for member in members:
            parts = member.name.split("/")
            try:
                parent = fds.get(parts[:-1])
                if member.isdir():
                    _make_dir(parent, parts[-1])
                    dirs[member.name] = member
                elif member.isreg():
                    _write_file(tar, member, parent, parts[-1])
                elif member.issym():
                    _make_symlink(member, parent, parts[-1])
                elif member.islnk():
                    target = member.linkname.split("/")
                    os.link(target[-1], parts[-1], src_dir_fd=link_fds.get(target[:-1]),
                            dst_dir_fd=parent, follow_symlinks=False)
                else:
                    _make_node(member, parent, parts[-1])
            except ArchiveEnded as err:
                raise JetsonError(f"{source} is not a readable tarball: it ends early or is damaged "
                                  f"in the data of member {member.name!r} ({err}); nothing was "
                                  "imported") from None
            except (OSError, OverflowError, ValueError) as err:
                raise JetsonError(f"{source}: cannot extract member {member.name!r}: {reason(err)}; "
                                  "nothing was imported") from None
        for path in sorted(dirs, reverse=True):
            try:
                fd = fds.get(path.split("/"))
                if dirs[path] is None:
                    os.fchmod(fd, IMPLICIT_DIR_MODE)
                else:
                    set_fd_attrs(fd, dirs[path])
            except (OSError, OverflowError, ValueError) as err:
                raise JetsonError(f"{source}: cannot set the owner, mode or times of folder "
                                  f"{path!r}: {reason(err)}; nothing was imported") from None
    finally:
        fds.close()
        link_fds.close()
