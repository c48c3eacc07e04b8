"""``ssh alice@site jetson-image ...``: a real sshd whose ``ForceCommand`` is the sudo rule, so the
account runs jetson-image and nothing else (the setup of docs/admin-guide.md, "Self-service
images"). The account and the site come from test_image_cli.py."""

import os
import shutil
import stat
import tarfile

import pytest

from tests.functional.test_image_cli import _run, account, farm  # noqa: F401 (fixtures)
from tests.jump_host import free_port, running_sshd
from tests.unit.test_rootfs_tarball import member, sample_members

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(c) for c in ("sshd", "ssh", "ssh-keygen",
                                                                              "sudo", "useradd")),
                       reason="needs root, OpenSSH's sshd and client, sudo and useradd"),
]


@pytest.fixture(scope="module")
def sshd(account):  # noqa: F811
    """``ssh(*words)``: the account's ssh to a private sshd (key only, ForceCommand sudo -n ...)."""
    name, folder = account
    keys = folder / "ssh"
    keys.mkdir()
    for key in ("host", "user"):
        assert _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / key)]).returncode == 0
    (keys / name).write_text((keys / "user.pub").read_text())
    port = free_port()
    config = keys / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {keys / 'host'}
PidFile {keys / 'sshd.pid'}
AuthorizedKeysFile {keys}/%u
AllowUsers {name}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
ForceCommand sudo -n {folder / 'jetson-image'}
""")
    def ssh(*words):
        return _run(["ssh", "-i", str(keys / "user"), "-p", str(port), "-o", "BatchMode=yes",
                     "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "-o", "LogLevel=ERROR", f"{name}@127.0.0.1", *words])

    with running_sshd(config, keys / "sshd.log", lambda: ssh("--help").returncode == 0):
        yield ssh


def test_over_ssh_the_account_runs_jetson_image_for_itself_only(sshd, farm):  # noqa: F811
    source = farm.tarball("rootfs.tar", sample_members())
    proc = sshd("jetson-image", "import", "l4t", source)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"imported {source} as {farm.user}/l4t"
    proc = sshd("jetson-image list")
    assert proc.returncode == 0 and f"{farm.user}/l4t" in proc.stdout and "admin/l4t-base" in proc.stdout
    proc = sshd("jetson-image", "remove", "bob/private")
    assert proc.returncode == 1 and "image bob/private is bob's" in proc.stderr
    assert os.path.isdir(farm.site.layout.image_path("bob/private"))


def test_over_ssh_no_other_command_runs(sshd, farm, tmp_path):  # noqa: F811
    target = tmp_path / "pwned"
    for words in (["touch", str(target)], [f"jetson-image list; touch {target}"],
                  [f"jetson-image --user bob list && touch {target}"]):
        proc = sshd(*words)
        assert proc.returncode in (1, 2), (words, proc)
        assert "usage: jetson-image" in proc.stderr or "\njetson-image: " in proc.stderr, proc.stderr
    assert not target.exists()


@pytest.mark.parametrize(("members", "named"), [
    ([member("a", tarfile.DIRTYPE), member("a", tarfile.SYMTYPE, linkname="/tmp"),
      member("a/jetson-ssh-pwned", data=b"pwned")], "member 'a' comes twice"),
    ([member("dev/null", tarfile.CHRTYPE, dev=(1, 3)), member("dev/null", data=b"pwned")],
     "member 'dev/null' comes twice"),
    ([member("etc", tarfile.DIRTYPE), member("../jetson-ssh-pwned", data=b"pwned")],
     "member '../jetson-ssh-pwned' has a '..' component"),
    ([member("/tmp/jetson-ssh-pwned", data=b"pwned")], "is an absolute path"),
], ids=["symlink-then-child", "device-then-file", "dotdot", "absolute"])
def test_over_ssh_a_hostile_tarball_is_refused_and_changes_nothing(sshd, farm, members, named):  # noqa: F811
    before = farm.store_listing()
    with open("/dev/null", "rb") as null:
        null_stat = os.fstat(null.fileno())
    source = farm.tarball("evil.tar", members)
    proc = sshd("jetson-image", "import", "evil", source)
    assert proc.returncode == 1, proc
    assert named in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert farm.store_listing() == before
    assert not os.path.exists("/tmp/jetson-ssh-pwned")
    assert not os.path.exists(os.path.join(os.path.dirname(farm.site.layout.images_dir), "jetson-ssh-pwned"))
    after = os.stat("/dev/null")
    assert (after.st_rdev, stat.S_ISCHR(after.st_mode)) == (null_stat.st_rdev, True)
