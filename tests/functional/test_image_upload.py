"""``jetson-image import NAME -``: the tarball on standard input, through the real sudo rule as
a real user (the account and site of test_image_cli.py), bounded by the user's free quota."""

import os

import pytest

from tests.functional.test_image_cli import _run, account, farm  # noqa: F401 (fixtures)
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members

pytestmark = pytest.mark.timeout(120)


def _import_stdin(farm, name, path):  # noqa: F811
    with open(path, "rb") as stream:
        return _run(["runuser", "-u", farm.user, "--", "sudo", "-n", str(farm.folder / "jetson-image"),
                     "import", name, "-"], stdin=stream)


def test_import_from_stdin(farm, tmp_path):  # noqa: F811
    source = make_tar(tmp_path / "rootfs.tar.gz", sample_members(), "w:gz")
    proc = _import_stdin(farm, "piped", source)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"imported stdin as {farm.user}/piped"
    slot = farm.site.layout.image_path(f"{farm.user}/piped")
    assert os.stat(os.path.join(slot, "bin/su")).st_mode & 0o4000


def test_an_upload_larger_than_the_free_quota_is_refused_and_nothing_is_kept(farm, tmp_path):  # noqa: F811
    farm.pillar["users"][farm.user]["quota_gb"] = 0.0001  # about 105 kB
    farm.write_config()
    source = make_tar(tmp_path / "big.tar", [member("big.bin", data=os.urandom(300_000))])
    before = farm.store_listing()
    state_before = sorted(os.listdir(farm.site.layout.state_dir))
    proc = _import_stdin(farm, "big", source)
    assert proc.returncode == 1
    assert "over quota: the upload on stdin is larger than your free quota (104.9 kB)" in proc.stderr
    assert farm.store_listing() == before
    assert sorted(os.listdir(farm.site.layout.state_dir)) == state_before  # the spool had no name
