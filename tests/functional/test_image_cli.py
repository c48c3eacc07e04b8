"""``jetson-image`` run by a real unprivileged user through a real sudo rule (docs/admin-guide.md,
"Self-service images"): the user is the one sudo names, the store is written as root, and the
tarball is opened with the user's own rights.

A throwaway system account and a sudoers drop-in are made for the module and removed after it.
The sudo rule points at a root-owned script calling ``main(default_config=...)`` with this test's
site config, as a site that keeps its config elsewhere would.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import uuid

import pytest
import yaml

from jetson_farm.rootfs import fsutil
from tests.conftest import SCRATCH, make_pillar
from tests.unit.test_rootfs_helpers import add_image, make_identity, make_site, manifest, not_exported
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members
from tests.unit.test_rootfs_tarball_hostile import PAYLOAD, canaries, loop_canary  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("sudo") or not shutil.which("useradd"),
                       reason="needs root, sudo and useradd to run the command as a real user"),
]


def _run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def account():
    """``(name, folder)``: a system user, sudo's rule for it, and the root-owned command script."""
    name = f"ji{uuid.uuid4().hex[:8]}"
    folder = SCRATCH / f"image-cli-{name}"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    script = folder / "jetson-image"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom jetson_farm.selfservice.cli import main\n"
                      f"sys.exit(main(default_config={str(folder / 'site.yaml')!r}))\n")
    os.chmod(script, 0o755)
    # A shell, so sshd can run its ForceCommand (test_image_ssh.py); '*': no password, not locked.
    proc = _run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", "--password", "*", name])
    assert proc.returncode == 0, proc.stderr
    rule = folder / "sudoers"
    rule.write_text(f"{name} ALL=(root) NOPASSWD: {script}\n"
                    f'Defaults!{script} env_keep += "SSH_ORIGINAL_COMMAND"\n')
    sudoers = f"/etc/sudoers.d/jetson-image-test-{name}"
    try:
        assert _run(["visudo", "-cf", str(rule)]).returncode == 0
        shutil.copyfile(rule, sudoers)
        os.chmod(sudoers, 0o440)
        yield name, folder
    finally:
        if os.path.exists(sudoers):
            os.unlink(sudoers)
        _run(["userdel", name])
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def farm(account, farm_dir):
    """A site whose users are the account (quota 1 GB) and bob, with its config written, the
    shared admin/l4t-base, bob's private image, and an upload folder the account owns."""
    name, folder = account
    pillar = make_pillar(farm_dir)
    pillar["users"][name] = {"email": f"{name}@example.org", "quota_gb": 1}
    pillar["images"]["bob/private"] = {"shared": False}
    site = make_site(pillar)
    site.layout.ensure()
    add_image(site, "admin/l4t-base")
    add_image(site, "bob/private")
    make_identity(site, "jtk1")
    upload = farm_dir / "upload"
    upload.mkdir()
    uid = pwd.getpwnam(name).pw_uid
    os.chown(upload, uid, pwd.getpwnam(name).pw_gid)
    farm = Farm(name, folder, site, pillar, upload)
    farm.write_config()
    return farm


class Farm:
    def __init__(self, user, folder, site, pillar, upload):
        self.user, self.folder, self.site, self.pillar, self.upload = user, folder, site, pillar, upload

    def write_config(self):
        (self.folder / "site.yaml").write_text(yaml.safe_dump({"jetson": self.pillar, "site": "site01"}))

    def run(self, *args):
        """``jetson-image ARGS`` as the account, through sudo."""
        return _run(["runuser", "-u", self.user, "--", "sudo", "-n", str(self.folder / "jetson-image"),
                     *args])

    def json(self, *args):
        proc = self.run(*args, "--json")
        return proc.returncode, json.loads(proc.stdout), proc.stderr

    def tarball(self, filename, members, mode="w"):
        """A tarball in the upload folder, owned by the account (as an upload is)."""
        path = make_tar(self.upload / filename, members, mode)
        user = pwd.getpwnam(self.user)
        os.chown(path, user.pw_uid, user.pw_gid)
        return path

    def store_listing(self):
        return sorted(os.path.relpath(os.path.join(folder, entry), self.site.layout.images_dir)
                      for folder, dirs, files in os.walk(self.site.layout.images_dir)
                      for entry in dirs + files)


def test_import_a_tarball_then_list_and_usage(farm):
    source = farm.tarball("rootfs.tar.gz", sample_members(), "w:gz")
    code, result, _ = farm.json("import", "l4t", source)
    assert code == 0, result
    assert result["image"] == f"{farm.user}/l4t" and result["members"] == 12
    slot = farm.site.layout.image_path(f"{farm.user}/l4t")
    assert os.stat(os.path.join(slot, "bin/su")).st_mode & 0o4000  # imported as root: setuid kept
    assert os.stat(os.path.join(slot, "dev/null")).st_rdev == os.makedev(1, 3)
    code, listed, _ = farm.json("list")
    assert code == 0
    assert [(i["image"], i["where"]) for i in listed["images"]] == [(f"{farm.user}/l4t", "store")]
    assert [i["image"] for i in listed["shared"]] == ["admin/l4t-base"]  # not bob/private
    proc = farm.run("usage")
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"{farm.user}: ") and "in 1 image(s); quota 1 GB" in proc.stdout
    proc = farm.run("import", "l4t", source)
    assert proc.returncode == 1 and f"image {farm.user}/l4t already exists" in proc.stderr


def test_import_over_quota_is_refused_before_anything_is_written(farm):
    farm.pillar["users"][farm.user]["quota_gb"] = 0.0001  # about 105 kB
    farm.write_config()
    source = farm.tarball("big.tar", [member("big.bin", data=b"x" * 200_000)])
    before = farm.store_listing()
    code, result, stderr = farm.json("import", "big", source)
    assert code == 1
    assert result["error"].startswith("over quota: importing " + source + " (195.3 kB of files) needs "
                                      "195.3 kB;")
    assert "Nothing was written" in stderr
    assert farm.store_listing() == before  # no image, no staging folder
    assert not [n for n in os.listdir(farm.site.layout.images_dir) if n.startswith(".")]
    code, result, _ = farm.json("import", "small", farm.tarball("small.tar", [member("a", data=b"x")]),
                                "--dry-run")
    assert code == 0 and result["dry_run"] is True and farm.store_listing() == before


def test_another_users_image_cannot_be_named(farm):
    for args in (["remove", "bob/private"], ["import", "bob/evil", "/nonexistent.tar"],
                 ["clone", "bob/private", "mine"], ["clone", "admin/l4t-base", "bob/copy"]):
        proc = farm.run(*args)
        assert proc.returncode == 1, args
        assert "bob/" in proc.stderr and ("is bob's" in proc.stderr), proc.stderr
    assert os.path.isdir(farm.site.layout.image_path("bob/private"))
    for option in (["--user", "bob"], ["--config", "/tmp/mine.yaml"], ["--site", "site01"]):
        proc = farm.run(*option, "list")
        assert proc.returncode == 1 and f"is for root only; jetson-image acts for you ({farm.user})" \
            in proc.stderr
    proc = farm.run("remove", "../../etc")
    assert proc.returncode == 2 and "invalid image" in proc.stderr


def test_a_tarball_the_user_cannot_read_is_refused(farm, farm_dir):
    secret = make_tar(farm_dir / "root-only.tar", sample_members())
    os.chmod(secret, 0o600)
    proc = farm.run("import", "stolen", secret)
    assert proc.returncode == 1 and f"cannot open {secret}: Permission denied" in proc.stderr
    assert not os.path.exists(farm.site.layout.image_path(f"{farm.user}/stolen"))


def test_a_hostile_tarball_leaves_the_host_unchanged(farm, canaries, loop_canary):  # noqa: F811
    _, major, minor, check_loop = loop_canary
    source = farm.tarball("disk.tar", [member("dev", tarfile.DIRTYPE, mode=0o755),
                                       member("dev/disk", tarfile.BLKTYPE, mode=0o660, dev=(major, minor)),
                                       member("dev/disk", data=PAYLOAD)])
    before = farm.store_listing()
    proc = farm.run("import", "evil", source)
    assert proc.returncode == 1
    assert "member 'dev/disk' comes twice in the archive (first as a device)" in proc.stderr
    assert source in proc.stderr and "/proc/self/fd" not in proc.stderr
    check_loop()
    canaries()
    assert farm.store_listing() == before


def test_clone_a_shared_image_and_remove_it(farm):
    code, result, _ = farm.json("clone", "admin/l4t-base", "base")
    assert code == 0 and result["image"] == f"{farm.user}/base"
    copy = farm.site.layout.image_path(f"{farm.user}/base")
    assert manifest(copy) == manifest(farm.site.layout.image_path("admin/l4t-base"))
    code, result, _ = farm.json("remove", "base", "--dry-run")
    assert code == 0 and result["dry_run"] is True and os.path.isdir(copy)
    code, result, _ = farm.json("remove", f"{farm.user}/base")
    assert code == 0 and result["removed"] is True and not os.path.exists(copy)


def test_remove_is_refused_while_the_image_is_booted_or_booked(farm):
    add_image(farm.site, f"{farm.user}/dev")
    farm.site.swap("jtk1", f"{farm.user}/dev", is_exported=not_exported)
    proc = farm.run("remove", "dev")
    assert proc.returncode == 1
    assert f"image {farm.user}/dev is at the nfsroot of board jtk1" in proc.stderr
    farm.site.park("jtk1", is_exported=not_exported)
    farm.site.set_bookings([{"image": f"{farm.user}/dev", "board": "jtk2", "user": farm.user,
                             "start": "2026-01-01T09:00:00+00:00", "end": "2999-01-01T18:00:00+00:00"}])
    proc = farm.run("remove", "dev", "--dry-run")
    assert proc.returncode == 1 and f"image {farm.user}/dev is booked by {farm.user} on board jtk2" \
        in proc.stderr
    assert os.path.isdir(farm.site.layout.image_path(f"{farm.user}/dev"))


def test_progress_of_a_large_tarball_goes_to_stderr(farm):
    path = farm.upload / "large.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("blob.bin")
        info.size = 80 * 1024**2
        with open("/dev/zero", "rb") as zeros:
            tar.addfile(info, zeros)
    os.chown(path, pwd.getpwnam(farm.user).pw_uid, -1)
    proc = farm.run("import", "large", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"jetson-image: {farm.user}/large: checking 0% of 80.0 MB"
    assert lines[-1] == f"jetson-image: {farm.user}/large: writing 100% of 80.0 MB"
    assert proc.stdout.strip() == f"imported {path} as {farm.user}/large"
    assert fsutil.is_real_dir(farm.site.layout.image_path(f"{farm.user}/large"))
