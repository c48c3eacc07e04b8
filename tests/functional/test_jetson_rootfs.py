"""jetson_rootfs through Salt's real loader: the door checks arguments and turns core errors
into CommandExecutionError/SaltInvocationError with the core's message."""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import marker
from tests.conftest import SSH_KEY_ALICE
from tests.unit.test_rootfs_helpers import manifest, seed_store


@pytest.fixture
def store(loaders, pillar):
    return seed_store(pillar["sites"]["site01"]["root"])


def test_the_module_loads_with_its_functions(modules, store):
    assert "jetson_rootfs.swap" in modules
    assert "jetson_rootfs.list" in modules
    assert "jetson_nfs.is_exported" in modules


def test_swap_then_park_through_the_loader(modules, store, pillar):
    original = manifest(store.image_path("alice/cuda-dev"))
    ret = modules.jetson_rootfs.swap("jtk1", "alice/cuda-dev", switch_id="sw-f1")
    assert ret["changed"] is True and ret["switch_id"] == "sw-f1"
    nfsroot = pillar["boards"]["jtk1"]["nfsroot"]
    assert marker.read_marker(nfsroot)["switch_id"] == "sw-f1"
    with open(os.path.join(nfsroot, marker.AUTHORIZED_KEYS)) as handle:
        assert SSH_KEY_ALICE in handle.read()
    again = modules.jetson_rootfs.swap("jtk1", "alice/cuda-dev", switch_id="sw-f1")
    assert again["changed"] is False
    assert modules.jetson_rootfs.state("jtk1")["image"] == "alice/cuda-dev"
    assert [i["where"] for i in modules.jetson_rootfs.list(user="alice")] == ["board"]
    assert modules.jetson_rootfs.info("alice/cuda-dev")["board"] == "jtk1"
    assert modules.jetson_rootfs.park("jtk1")["parked"] == "alice/cuda-dev"
    assert manifest(store.image_path("alice/cuda-dev")) == original
    assert modules.jetson_rootfs.reconcile()["problems"] == []


def test_errors_name_what_is_wrong(modules, store):
    with pytest.raises(SaltInvocationError, match=r"invalid image name 'a b'"):
        modules.jetson_rootfs.swap("jtk1", "alice/a b")
    with pytest.raises(SaltInvocationError, match="jetson_rootfs: image is required"):
        modules.jetson_rootfs.swap("jtk1", "")
    with pytest.raises(CommandExecutionError, match="image alice/nope does not exist in the store"):
        modules.jetson_rootfs.swap("jtk1", "alice/nope")
    with pytest.raises(CommandExecutionError, match="user 'alice' may not boot 'bob/private'"):
        modules.jetson_rootfs.swap("jtk1", "bob/private", user="alice")
    with pytest.raises(CommandExecutionError, match="unknown board 'jtk9'"):
        modules.jetson_rootfs.park("jtk9")
    with pytest.raises(CommandExecutionError, match="image bob/private is booked by alice on board jtk2"):
        modules.jetson_rootfs.set_bookings([{"image": "bob/private", "board": "jtk2", "user": "alice",
                                             "start": "2999-01-01T09:00:00+00:00",
                                             "end": "2999-01-01T18:00:00+00:00"}])
        modules.jetson_rootfs.remove("bob/private")
    assert os.path.isdir(store.image_path("bob/private"))


def test_usage_and_clone(modules, store):
    modules.jetson_rootfs.clone("alice/cuda-dev", "alice/copy")
    usage = modules.jetson_rootfs.usage(user="alice")
    assert usage["alice"]["images"] == 2 and usage["alice"]["over_quota"] is False


def test_swap_refuses_while_jetson_nfs_exports_the_nfsroot(modules, store, pillar):
    nfsroot = pillar["boards"]["jtk1"]["nfsroot"]
    os.makedirs(nfsroot, exist_ok=True)
    modules.jetson_nfs.export("jtk1")
    try:
        assert modules.jetson_nfs.is_exported("jtk1") is True
        with pytest.raises(CommandExecutionError, match=r"the nfsroot .*NFSRoot1 of board jtk1 is exported: "
                                                        r"unexport it first"):
            modules.jetson_rootfs.swap("jtk1", "alice/cuda-dev")
    finally:
        modules.jetson_nfs.unexport("jtk1")
    assert os.path.isdir(store.image_path("alice/cuda-dev"))
    assert os.listdir(nfsroot) == []
