"""Reading and writing inside a rootfs without ever following one of its symlinks (rule 2).

A rootfs belongs to its user, who is root on the board: any of its components may be a
symlink to the site server's own files (``etc/salt -> /etc``). Every access here walks the
relative path one component at a time with ``os.open(..., O_NOFOLLOW | O_DIRECTORY,
dir_fd=parent)``, so the kernel itself refuses to cross a symlink, and a symlink found on the
way raises :class:`UnsafePath` naming it. Files are written as a temporary file in the same
directory, then ``rename(2)``-d over the name: an existing hardlink is replaced, never written
through.
"""

import errno
import logging
import os
import stat

from jetson_farm.errors import UnsafePath

log = logging.getLogger(__name__)

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
TEMP_SUFFIX = ".jetson-farm-tmp"


def split_relpath(relpath):
    """The components of a relative path inside a rootfs; UnsafePath for '/', '..', '.' or ''."""
    if not isinstance(relpath, str) or not relpath or relpath.startswith("/"):
        raise UnsafePath(f"{relpath!r} is not a relative path inside a rootfs")
    parts = relpath.split("/")
    for part in parts:
        if part in ("", ".", "..") or "\0" in part:
            raise UnsafePath(f"{relpath!r} has an empty, '.' or '..' component")
    return parts


def temp_name(name):
    """The name of the temporary file that a write of ``name`` goes through (same folder)."""
    return f".{name}{TEMP_SUFFIX}"


class SafeRoot:
    """A rootfs folder opened once; every path below it is reached without following symlinks.

    Use as a context manager: ``with SafeRoot("/NFSRoot1", label="alice/cuda-dev") as root:``.
    ``label`` only makes error messages say which rootfs.
    """

    def __init__(self, path, label=None):
        self.path = path
        self.label = label or path
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.path, DIR_FLAGS)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePath(f"{self.path} is a symlink or not a directory: refusing to use it "
                                 "as a rootfs") from None
            raise
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # -- walking ---------------------------------------------------------------------------

    def _unsafe(self, relpath, what, target=None):
        why = f"{relpath} is {what} in the rootfs of {self.label}"
        if target:
            why += f": refusing to write {target} through it"
        return UnsafePath(why)

    def _open_component(self, parent_fd, name, relpath, target):
        try:
            return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as err:
            if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise self._unsafe(relpath, f"a symlink (to {os.readlink(name, dir_fd=parent_fd)!r})",
                               target) from None
        raise self._unsafe(relpath, "not a directory", target) from None

    def open_dir(self, parts, create=None, target=None):
        """An fd of the folder ``parts`` (a list of components), or None if one is missing.

        ``create``: a callable ``create(relpath) -> mode`` called before each missing folder is
        made (so the caller can journal it first); None means do not create.
        """
        fd = os.dup(self.fd)
        try:
            for i, name in enumerate(parts):
                relpath = "/".join(parts[: i + 1])
                try:
                    child = self._open_component(fd, name, relpath, target)
                except FileNotFoundError:
                    if create is None:
                        os.close(fd)
                        return None
                    mode = create(relpath)
                    try:
                        os.mkdir(name, mode, dir_fd=fd)
                        made = True
                    except FileExistsError:
                        made = False
                    child = self._open_component(fd, name, relpath, target)
                    if made:
                        os.fchmod(child, mode)  # the exact mode, whatever the umask
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _parent(self, relpath, create=None):
        parts = split_relpath(relpath)
        return self.open_dir(parts[:-1], create=create, target=relpath), parts[-1]

    # -- questions -------------------------------------------------------------------------

    def lstat(self, relpath):
        """``os.lstat`` of ``relpath``, or None if it (or a folder above it) does not exist.

        UnsafePath if a folder above it is a symlink or not a folder.
        """
        dir_fd, name = self._parent(relpath)
        if dir_fd is None:
            return None
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        finally:
            os.close(dir_fd)

    def listdir(self, relpath):
        """The names in the folder ``relpath`` ([] if it does not exist); UnsafePath if it or a
        folder above it is a symlink or not a folder."""
        fd = self.open_dir(split_relpath(relpath), target=relpath)
        if fd is None:
            return []
        try:
            return os.listdir(fd)
        finally:
            os.close(fd)

    def check_writable(self, relpath, max_size=None):
        """Raise UnsafePath unless ``relpath`` could be written: every existing folder on the way
        a real folder, the file itself absent or a regular file (of at most ``max_size`` bytes)."""
        parts = split_relpath(relpath)
        fd = os.dup(self.fd)
        try:
            for i, name in enumerate(parts):
                sub = "/".join(parts[: i + 1])
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    return
                if stat.S_ISLNK(st.st_mode):
                    raise self._unsafe(sub, f"a symlink (to {os.readlink(name, dir_fd=fd)!r})", relpath)
                if i == len(parts) - 1:
                    if not stat.S_ISREG(st.st_mode):
                        raise self._unsafe(sub, "not a regular file", relpath)
                    self._check_size(sub, st.st_size, max_size)
                    return
                child = self._open_component(fd, name, sub, relpath)
                os.close(fd)
                fd = child
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------

    def _check_size(self, relpath, size, max_size):
        if max_size is not None and size > max_size:
            raise self._unsafe(relpath, f"{size} bytes, more than the {max_size} a file the farm saves "
                               "and replaces may hold")

    def copy_out(self, relpath, dest_path, max_size=None):
        """Copy the regular file ``relpath`` to ``dest_path`` (outside the rootfs); its stat.

        Returns None if it does not exist; UnsafePath if it is a symlink, not a regular file, or
        larger than ``max_size`` bytes (a sparse file of terabytes would fill the site's disk).
        """
        dir_fd, name = self._parent(relpath)
        if dir_fd is None:
            return None
        try:
            try:
                src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                              dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise self._unsafe(relpath, "a symlink") from None
                raise
            try:
                st = os.fstat(src)
                if not stat.S_ISREG(st.st_mode):
                    raise self._unsafe(relpath, "not a regular file")
                self._check_size(relpath, st.st_size, max_size)
                copied = 0
                with open(dest_path, "wb") as out:
                    while chunk := os.read(src, 1 << 20):
                        copied += len(chunk)
                        self._check_size(relpath, copied, max_size)  # it grew since fstat
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                return st
            finally:
                os.close(src)
        finally:
            os.close(dir_fd)

    # -- writing ---------------------------------------------------------------------------

    def write_file(self, relpath, data, mode, uid=0, gid=0, times_ns=None, create=None,
                   before_rename=None):
        """Write ``data`` (bytes) at ``relpath``: temp file, fsync, rename over the name.

        ``create`` as in :meth:`open_dir` (folders missing on the way); ``times_ns`` an
        ``(atime_ns, mtime_ns)`` pair to set; ``before_rename`` a callable run once the temp file
        is complete (the crash-test hook). Refuses a symlink, folder or special file at the name.
        """
        dir_fd, name = self._parent(relpath, create=create)
        if dir_fd is None:
            raise self._unsafe(relpath.rsplit("/", 1)[0], "missing", relpath)
        try:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise self._unsafe(relpath, f"a symlink (to {os.readlink(name, dir_fd=dir_fd)!r})")
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise self._unsafe(relpath, "not a regular file")
            tmp = temp_name(name)
            self._unlink_at(dir_fd, tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=dir_fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                if times_ns is not None:
                    os.utime(fd, ns=tuple(times_ns))
                os.fsync(fd)
            finally:
                os.close(fd)
            if before_rename is not None:
                before_rename()
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @staticmethod
    def _unlink_at(dir_fd, name):
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            return False
        os.unlink(name, dir_fd=dir_fd)
        return True

    def unlink(self, relpath):
        """Remove the file or symlink ``relpath`` (never what a symlink points to); True if it was
        there. A folder at the name is left alone (False)."""
        dir_fd, name = self._parent(relpath)
        if dir_fd is None:
            return False
        try:
            removed = self._unlink_at(dir_fd, name)
            if removed:
                os.fsync(dir_fd)
            return removed
        finally:
            os.close(dir_fd)

    def discard_temp(self, relpath):
        """Remove a temp file that an interrupted :meth:`write_file` of ``relpath`` left."""
        parts = split_relpath(relpath)
        parts[-1] = temp_name(parts[-1])
        return self.unlink("/".join(parts))

    def rmdir_if_empty(self, relpath):
        """Remove the folder ``relpath`` if it exists and is empty; True if removed."""
        dir_fd, name = self._parent(relpath)
        if dir_fd is None:
            return False
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                return False
            os.rmdir(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
            return True
        except FileNotFoundError:
            return False
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                log.info("left %s in %s: it is not empty", relpath, self.label)
                return False
            raise
        finally:
            os.close(dir_fd)
