"""jetson_rootfs on a real site minion, called through the real master."""

import os

import pytest

from jetson_farm import marker
from tests.unit.test_rootfs_helpers import manifest, seed_store


@pytest.fixture
def store(farm):
    return seed_store(farm.pillar["sites"]["site01"]["root"])


def test_swap_and_park_through_the_master(farm, store):
    original = manifest(store.image_path("alice/cuda-dev"))
    ret = farm.salt("jetson_rootfs.swap", "jtk1", "alice/cuda-dev", "switch_id=sw-int-1")
    assert ret.returncode == 0, ret
    assert ret.data["changed"] is True and ret.data["image"] == "alice/cuda-dev"
    nfsroot = farm.pillar["boards"]["jtk1"]["nfsroot"]
    assert marker.read_marker(nfsroot) == {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice",
                                           "switch_id": "sw-int-1"}
    again = farm.salt("jetson_rootfs.swap", "jtk1", "alice/cuda-dev", "switch_id=sw-int-1")
    assert again.returncode == 0 and again.data["changed"] is False
    listed = farm.salt("jetson_rootfs.list")
    assert listed.returncode == 0
    where = {i["image"]: i["where"] for i in listed.data}
    assert where == {"alice/cuda-dev": "board", "bob/private": "store"}
    parked = farm.salt("jetson_rootfs.park", "jtk1")
    assert parked.returncode == 0 and parked.data["parked"] == "alice/cuda-dev"
    assert manifest(store.image_path("alice/cuda-dev")) == original


def test_refusals_fail_the_call_with_the_reason(farm, store):
    ret = farm.salt("jetson_rootfs.swap", "jtk1", "bob/private", "user=alice")
    assert ret.returncode != 0
    assert "user 'alice' may not boot 'bob/private'" in str(ret.data)
    ret = farm.salt("jetson_rootfs.swap", "jtk1", "alice/no-such-image")
    assert ret.returncode != 0
    assert "image alice/no-such-image does not exist in the store" in str(ret.data)
    assert os.path.isdir(store.image_path("bob/private"))
    state = farm.call("jetson_rootfs.state", "jtk1")
    assert state.returncode == 0 and state.data["image"] is None
