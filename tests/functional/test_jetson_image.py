"""jetson_image through Salt's real loader: an admin's door to what ``jetson-image`` does, with the
same names, quota and refusals, and the core's message in the Salt error."""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.unit.test_rootfs_helpers import manifest, seed_store
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members


@pytest.fixture
def pillar(pillar):
    pillar["users"]["bob"]["quota_gb"] = 0.001  # about 1 MB
    return pillar


@pytest.fixture
def store(loaders, pillar):
    layout = seed_store(pillar["sites"]["site01"]["root"])  # alice/cuda-dev, bob/private
    os.makedirs(os.path.join(layout.image_path("admin/l4t-base"), "etc"))  # shared: True
    return layout


def test_import_list_clone_remove_for_a_user(modules, store, farm_dir):
    source = make_tar(farm_dir / "rootfs.tar", sample_members())
    assert modules["jetson_image.import"]("alice", "l4t", source, dry_run=True)["dry_run"] is True
    assert not os.path.exists(store.image_path("alice/l4t"))
    ret = modules["jetson_image.import"]("alice", "l4t", source)
    assert ret["image"] == "alice/l4t" and ret["members"] == 12
    listed = modules.jetson_image.list("alice")
    assert [i["image"] for i in listed["images"]] == ["alice/cuda-dev", "alice/l4t"]
    assert [i["image"] for i in listed["shared"]] == ["admin/l4t-base"]
    assert modules.jetson_image.clone("alice", "admin/l4t-base", "base")["image"] == "alice/base"
    assert manifest(store.image_path("alice/base")) == manifest(store.image_path("admin/l4t-base"))
    assert modules.jetson_image.remove("alice", "base")["removed"] is True
    assert modules.jetson_image.usage("alice")["images"] == 2


def test_the_door_refuses_what_the_command_refuses(modules, store, pillar, farm_dir):
    with pytest.raises(CommandExecutionError, match="jetson_image: image bob/private is bob's"):
        modules.jetson_image.remove("alice", "bob/private")
    with pytest.raises(CommandExecutionError, match="image bob/private is bob's and not shared with you"):
        modules.jetson_image.clone("alice", "bob/private", "mine")
    with pytest.raises(SaltInvocationError, match=r"jetson_image: invalid image name '\.\.'"):
        modules.jetson_image.remove("alice", "..")
    with pytest.raises(SaltInvocationError, match="jetson_image: user is required"):
        modules.jetson_image.list()
    with pytest.raises(CommandExecutionError, match="carol is not a user of this farm"):
        modules.jetson_image.usage("carol")
    big = make_tar(farm_dir / "big.tar", [member("big.bin", data=b"x" * 2_000_000)])
    with pytest.raises(CommandExecutionError, match=r"over quota: importing .*big.tar \(1.9 MB of files\)"):
        modules["jetson_image.import"]("bob", "big", big)
    assert os.path.isdir(store.image_path("bob/private"))
