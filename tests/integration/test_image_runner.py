"""Runner ``jetson.image`` on the session master: an admin does what a user's ``jetson-image`` does,
for the user they name, on the site server's store (module ``jetson_image``)."""

import os

from tests.unit.test_rootfs_helpers import seed_store
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members


def run(master, *args):
    return master.salt_run_cli(timeout=300).run("jetson.image", *args)


def test_an_admin_imports_lists_and_removes_for_a_user(runners, farm):
    layout = seed_store(farm.pillar["sites"]["site01"]["root"])  # alice/cuda-dev, bob/private
    source = make_tar(farm.dir / "rootfs.tar", sample_members())
    ret = run(runners, "import", "user=alice", "name=l4t", f"file={source}")
    assert ret.returncode == 0, ret
    assert ret.data["image"] == "alice/l4t" and ret.data["members"] == 12
    ret = run(runners, "list", "user=alice")
    assert ret.returncode == 0, ret
    assert [i["image"] for i in ret.data["images"]] == ["alice/cuda-dev", "alice/l4t"]
    ret = run(runners, "remove", "user=alice", "name=l4t", "dry_run=True")
    assert ret.returncode == 0 and ret.data["dry_run"] is True, ret
    assert os.path.isdir(layout.image_path("alice/l4t"))
    ret = run(runners, "remove", "user=alice", "name=l4t")
    assert ret.returncode == 0 and ret.data["removed"] is True, ret


def test_the_runner_refuses_what_the_command_refuses(runners, farm):
    layout = seed_store(farm.pillar["sites"]["site01"]["root"])
    farm.pillar["users"]["bob"]["quota_gb"] = 0.001  # about 1 MB
    farm.apply_pillar()
    ret = run(runners, "remove", "user=alice", "name=bob/private")
    assert ret.returncode == 1, ret
    assert "image bob/private is bob's" in ret.stdout
    big = make_tar(farm.dir / "big.tar", [member("big.bin", data=b"x" * 2_000_000)])
    ret = run(runners, "import", "user=bob", "name=big", f"file={big}")
    assert ret.returncode == 1, ret
    assert "over quota: importing" in ret.stdout
    assert sorted(os.listdir(layout.images_dir)) == ["alice", "bob"]  # no staging folder
    ret = run(runners, "import", "user=bob", "name=big")
    assert ret.returncode == 1 and "file= is required" in ret.stdout, ret
    ret = run(runners, "format", "user=bob")
    assert ret.returncode == 1 and "command must be one of list, usage, import, clone, remove" in ret.stdout
