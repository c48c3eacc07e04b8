"""The users' accounts and the SSH jump host, applied by the real site minion, then used through a
real sshd that includes the applied drop-in (docs/inventory.md, "Users").

The accounts, their group and the sudo rule are real (named per run, removed afterwards); the
drop-in, keys, command and site config live in a scratch folder (pillar ``jump_host`` paths), and
the test's own sshd runs on a free port with ``StrictModes no`` (the scratch folder is under the
world-writable /var/tmp), so the machine's own sshd and sudo rules are never touched.
"""

import base64
import datetime
import grp
import os
import pwd
import shutil
import socket
import threading

import pytest

from tests.jump_host import NEEDS_SSH, Jump
from tests.unit.test_rootfs_helpers import make_rootfs, manifest
from tests.unit.test_rootfs_tarball import make_tar, sample_members

SITE_SLS = "jetson.site"  # the whole site, as an admin applies it
USERS_SLS = "jetson.users"  # its users' part only: what the jump-host tests need, quicker

pytestmark = [pytest.mark.timeout(900), *NEEDS_SSH]


def _states(ret):
    assert isinstance(ret.data, dict), ret
    return {key.split("_|-")[1]: value for key, value in ret.data.items()}


def _apply(farm, sls=USERS_SLS, **kwargs):
    return farm.salt("state.apply", sls, **kwargs)


@pytest.fixture
def jump(farm):
    jump = Jump()
    jump.farm = farm
    try:
        yield jump
    finally:
        jump.cleanup()


@pytest.fixture
def sshd(jump):
    with jump.sshd() as daemon:
        yield daemon


@pytest.fixture
def applied(jump):
    """The state applied once for this test's pillar."""
    jump.farm.pillar = jump.configure(jump.farm.pillar)
    jump.farm.pillar["boards"]["jtk1"]["ip"] = jump.board_ip
    jump.farm.apply_pillar()
    ret = _apply(jump.farm)
    assert ret.returncode == 0, ret
    return ret


def test_a_test_run_changes_nothing_then_an_apply_makes_the_accounts_and_a_second_none(jump):
    jump.farm.pillar = jump.configure(jump.farm.pillar)
    jump.farm.pillar["boards"]["jtk1"]["ip"] = jump.board_ip
    jump.farm.apply_pillar()
    ret = _apply(jump.farm, SITE_SLS, test=True)
    assert ret.returncode == 0, ret
    states = _states(ret)
    assert states[f"jetson-user-{jump.alice}"]["result"] is None
    assert states["jetson-users-sshd"]["result"] is None
    with pytest.raises(KeyError):
        pwd.getpwnam(jump.alice)
    assert not jump.dropin.exists() and not os.path.exists(jump.sudoers)
    assert not (jump.folder / "keys").exists()

    ret = _apply(jump.farm, SITE_SLS)
    assert ret.returncode == 0, ret
    assert all(state["result"] is True for state in _states(ret).values())
    account = pwd.getpwnam(jump.alice)
    assert account.pw_shell == "/bin/sh" and account.pw_gid == grp.getgrnam(jump.group).gr_gid
    slot = jump.farm.dir / "root" / "images" / jump.alice
    assert slot.is_dir() and os.listdir(slot) == []
    assert (os.stat(slot).st_uid, os.stat(slot).st_mode & 0o7777) == (0, 0o755)
    keys = (jump.folder / "keys" / jump.alice).read_text().splitlines()
    assert keys[1:] == [jump.public(jump.alice)]
    assert (os.stat(jump.sudoers).st_mode & 0o777) == 0o440
    assert f"PermitOpen 127.0.12.1:22 {jump.board_ip}:22" in jump.dropin.read_text()
    pwd.getpwnam(jump.admin)  # admins have an account too

    again = _apply(jump.farm, SITE_SLS)
    assert again.returncode == 0, again
    changed = {sid: state["changes"] for sid, state in _states(again).items() if state["changes"]}
    assert changed == {}


def test_over_the_jump_host_a_user_runs_jetson_image_and_reaches_only_the_boards(jump, applied, sshd,
                                                                                 tmp_path):
    proc = jump.ssh(jump.alice, "jetson-image", "list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("IMAGE") and "(no images yet" in proc.stdout

    tarball = make_tar(tmp_path / "rootfs.tar.gz", sample_members(), "w:gz")
    with open(tarball, "rb") as stream:
        proc = jump.ssh(jump.alice, "jetson-image", "import", "base", "-", stdin=stream)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"imported stdin as {jump.alice}/base"

    proc = jump.ssh(jump.alice, "sh", "-c", "id")
    assert proc.returncode == 2 and "usage: jetson-image" in proc.stderr and "uid=" not in proc.stdout
    proc = jump.ssh(jump.alice, options=("-tt",))  # an interactive login: no shell, no tty
    assert proc.returncode != 0 and "uid=" not in proc.stdout

    proc = jump.ssh(jump.alice, "jetson-image", "list",
                    options=("-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"))
    assert proc.returncode == 255 and "Permission denied (publickey)" in proc.stderr

    with socket.socket() as board:
        board.bind((jump.board_ip, 22))
        board.listen(1)

        def answer():
            conn, _ = board.accept()
            with conn:
                conn.sendall(b"SSH-2.0-board\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        proc = jump.ssh(jump.alice, options=("-W", f"{jump.board_ip}:22"))
        thread.join(timeout=30)
    assert proc.stdout.startswith("SSH-2.0-board"), proc.stderr
    for target in (f"{jump.board_ip}:2222", f"127.0.0.1:{jump.port}"):
        proc = jump.ssh(jump.alice, options=("-W", target))
        assert proc.returncode == 255 and "stdio forwarding failed" in proc.stderr, (target, proc.stderr)


def test_a_user_removed_from_pillar_goes_to_the_attic_and_a_booted_one_is_refused(jump, applied, sshd):
    site_root = jump.farm.dir / "root"
    bob_image = site_root / "images" / jump.bob / "ros"
    make_rootfs(bob_image)
    before = manifest(bob_image)
    # alice's image is at board jtk1, as a switch leaves it (journal, nfsroot).
    make_rootfs(jump.farm.dir / "NFSRoot1-image")
    shutil.rmtree(jump.farm.dir / "NFSRoot1", ignore_errors=True)
    os.rename(jump.farm.dir / "NFSRoot1-image", jump.farm.dir / "NFSRoot1")
    (site_root / "state").mkdir(exist_ok=True)
    (site_root / "state" / "jtk1.json").write_text(
        f'{{"board": "jtk1", "image": "{jump.alice}/cuda", "user": "{jump.alice}", "switch_id": "s1", '
        '"since": "2026-11-30T06:00:00+00:00", "operation": null}')
    not_ed25519 = base64.b64encode(b"\0\0\0\x07ssh-rsa" + b"\0" * 8).decode()
    pillar = jump.farm.pillar
    del pillar["users"][jump.alice], pillar["users"][jump.bob]
    pillar["users"][jump.eve] = {"ssh_keys": [jump.public(jump.bob), f"ssh-ed25519 {not_ed25519} eve"]}
    jump.farm.apply_pillar()

    ret = _apply(jump.farm, test=True)
    states = _states(ret)
    assert states[f"jetson-user-{jump.bob}-retired"]["result"] is None
    assert set(states[f"jetson-user-{jump.bob}-retired"]["changes"]["would"]) == {"images", "keys", "account"}
    assert bob_image.is_dir() and pwd.getpwnam(jump.bob).pw_shell == "/bin/sh"

    ret = _apply(jump.farm)
    assert ret.returncode != 0
    states = _states(ret)
    refused = states[f"jetson-user-{jump.alice}-retired"]
    assert refused["result"] is False
    assert (f"user {jump.alice} cannot be retired yet: image {jump.alice}/cuda is at board jtk1 (booted)"
            in refused["comment"])
    assert (jump.folder / "keys" / jump.alice).exists()
    eve = states[f"jetson-user-{jump.eve}"]
    assert eve["result"] is False and eve["comment"].startswith(f"user {jump.eve}: ssh_keys[1]: ")
    assert not (jump.folder / "keys" / jump.eve).exists()
    with pytest.raises(KeyError):
        pwd.getpwnam(jump.eve)

    retired = states[f"jetson-user-{jump.bob}-retired"]
    assert retired["result"] is True, retired
    attic = site_root / "attic" / f"{jump.bob}-{datetime.date.today().isoformat()}"
    assert manifest(attic / "ros") == before and not bob_image.parent.exists()
    account = pwd.getpwnam(jump.bob)
    assert account.pw_shell == "/usr/sbin/nologin"
    assert not (jump.folder / "keys" / jump.bob).exists()
    proc = jump.ssh(jump.bob, "jetson-image", "list")
    assert proc.returncode == 255 and "Permission denied" in proc.stderr

    again = _states(_apply(jump.farm))
    assert f"jetson-user-{jump.bob}-retired" not in again  # retired once, left alone after
