"""``jetson-image import NAME -`` with no quota: an endless stream stops at the store's free space
less its reserve, on a real (loop-mounted, small) file system, and leaves nothing behind."""

import os

import pytest

from jetson_farm.selfservice.images import QuotaExceeded
from jetson_farm.selfservice.upload import spool
from tests.loopfs import free_bytes, loop_filesystem, missing

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(bool(missing("ext4")), reason=missing("ext4") or "ext4 tools present")]


class Endless:
    """A stream that never ends (``yes | ssh ... jetson-image import x -``), counting what it gave."""

    def __init__(self):
        self.given = 0

    def read(self, size):
        self.given += size
        return b"y" * size


def test_an_endless_upload_without_quota_stops_short_of_filling_the_store():
    with loop_filesystem("ext4", size_mb=64) as mount:
        free_before = free_bytes(mount)
        stream = Endless()
        with pytest.raises(QuotaExceeded, match=r"larger than the store's free space .* less a 5% reserve"):
            spool(stream, mount, None)
        assert stream.given < free_before
        assert os.listdir(mount) == ["lost+found"]
        assert free_bytes(mount) >= free_before - 1024**2
