"""``jetson-image import NAME -``: the tarball read from standard input, so a user whose only
command on the site server is ``jetson-image`` (no scp, no sftp) can upload one::

    ssh alice@site01 jetson-image import l4t - < rootfs.tar.gz

The store reads a tarball twice (every member checked, then written), so the stream is first
spooled into an unnamed file (``O_TMPFILE``) on the store's file system: it has no name, so it
vanishes with the process whatever happens, and no partial upload is ever left behind. The
upload may not be larger than the user's free quota; past it, the read stops and is refused.
"""

import os

from jetson_farm.selfservice.images import QuotaExceeded, human

CHUNK = 1024**2
STDIN_SHOWN = "stdin"


def spool(stream, folder, limit):
    """A read-only-positioned fd (at 0) of an unnamed file in ``folder`` holding all of ``stream``.

    ``limit``: the most bytes accepted (None: no limit); past it QuotaExceeded, the file gone.
    """
    fd = os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    total = 0
    try:
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if limit is not None and total > limit:
                raise QuotaExceeded(f"over quota: the upload on stdin is larger than your free quota "
                                    f"({human(limit)}); nothing was kept. Remove an image first "
                                    "(jetson-image remove NAME) or ask an admin for more")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def spool_for(service, stream):
    """:func:`spool` into the store of ``service`` (a SelfService), bounded by its user's free quota."""
    service.site.layout.ensure()
    limit = service.usage()["free_bytes"] if service.site.inventory.users[service.user].quota_gb else None
    return spool(stream, service.site.layout.state_dir, limit)
