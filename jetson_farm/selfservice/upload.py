"""``jetson-image import NAME -``: the tarball read from standard input, so a user whose only
command on the site server is ``jetson-image`` (no scp, no sftp) can upload one::

    ssh alice@site01 jetson-image import l4t - < rootfs.tar.gz

The store reads a tarball twice (every member checked, then written), so the stream is first
spooled into an unnamed file (``O_TMPFILE``) on the store's file system: it has no name, so it
vanishes with the process whatever happens, and no partial upload is ever left behind. The
upload may not be larger than the user's free quota, nor (quota or not) than the store's free
space less a reserve, so an endless stream never fills the site server's disk; past either,
the read stops and is refused.
"""

import os
import shutil

from jetson_farm.selfservice.images import QuotaExceeded, human

CHUNK = 1024**2
STDIN_SHOWN = "stdin"
RESERVE_FRACTION = 0.05  # of the store's file system, kept free whatever the quotas say


def disk_limit(folder):
    """The most bytes an upload may spool into ``folder``'s file system: its free space less
    RESERVE_FRACTION of its size."""
    usage = shutil.disk_usage(folder)
    return max(0, usage.free - int(usage.total * RESERVE_FRACTION))


def spool(stream, folder, limit):
    """A read-only-positioned fd (at 0) of an unnamed file in ``folder`` holding all of ``stream``.

    ``limit``: the most bytes accepted (None: the quota does not bound it); past it, or past
    :func:`disk_limit`, QuotaExceeded, the file gone.
    """
    room = disk_limit(folder)
    if limit is None or room < limit:
        limit, why = room, f"the store's free space ({human(room)}, less a {RESERVE_FRACTION:.0%} reserve)"
    else:
        why = f"your free quota ({human(limit)})"
    fd = os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    total = 0
    try:
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise QuotaExceeded(f"over quota: the upload on stdin is larger than {why}; nothing "
                                    "was kept. Remove an image first (jetson-image remove NAME) or "
                                    "ask an admin for more")
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
