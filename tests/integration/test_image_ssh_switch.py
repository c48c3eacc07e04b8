"""Self-service end to end on the lab: a user imports a rootfs tarball over the SSH jump host
(``jetson-image import NAME -``, the forced command of their account), then a lab board is
switched to that image by the admin's ``state.orch jetson.switch`` and boots it.

The lab's own users (admin, alice, bob) get real accounts on this machine for the test, with
keys made here; the jump host's paths are in a scratch folder (tests/jump_host.py), and the
accounts, sudo rule and pillar are put back afterwards.
"""

import pathlib
import pwd

import pytest

from tests.jump_host import NEEDS_SSH, Jump
from tests.lab_fixture import lab_session  # noqa: F401
from tests.switch_helpers import marker, orchestrate, where_images
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members

BOARD = "jtk1"
LAB_USERS = ("admin", "alice", "bob", "eve")

pytestmark = [pytest.mark.timeout(900), *NEEDS_SSH]


def _existing(names):
    found = []
    for name in names:
        try:
            pwd.getpwnam(name)
            found.append(name)
        except KeyError:
            pass
    return found


@pytest.fixture
def jump(lab):
    if _existing(LAB_USERS):
        pytest.skip(f"this machine already has accounts named {', '.join(_existing(LAB_USERS))}, "
                    "which the test would create and remove")
    saved = lab.pillar
    jump = Jump(names=LAB_USERS)
    pillar = lab.pillar
    pillar["sites"][lab.site_of(BOARD)]["jump_host"] = jump.jump_host()
    for user in ("alice", "bob"):
        pillar["users"][user]["ssh_keys"] = [jump.public(user)]
    pillar["users"]["admin"].pop("ssh_keys", None)
    try:
        lab.write_pillar(pillar)
        yield jump
    finally:
        lab.write_pillar(saved)
        jump.cleanup()


def test_a_tarball_imported_over_ssh_boots_on_a_lab_board(lab, jump, tmp_path):
    site = lab.site_of(BOARD)
    applied = lab.salt([site, "state.apply", "jetson.users"], timeout=300)
    assert applied.returncode == 0, applied
    members = [*sample_members(), member("etc/issue", data=b"alice's own image\n")]
    tarball = make_tar(tmp_path / "rootfs.tar.gz", members, "w:gz")
    with jump.sshd():
        with open(tarball, "rb") as stream:
            proc = jump.ssh("alice", "jetson-image", "import", "mine", "-", stdin=stream)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "imported stdin as alice/mine"
        proc = jump.ssh("bob", "jetson-image", "remove", "alice/mine")
        assert proc.returncode != 0 and "alice/mine" in proc.stderr, (proc.stdout, proc.stderr)

    default = lab.pillar["boards"][BOARD]["image"]
    try:
        switched = orchestrate(lab, "jetson.switch", {"board": BOARD, "image": "alice/mine"})
        assert switched.returncode == 0, switched
        assert marker(lab, BOARD)["image"] == "alice/mine"
        assert pathlib.Path(lab.nfsroot(BOARD), "etc", "issue").read_text() == "alice's own image\n"
        assert where_images(lab, site)["alice/mine"] == [BOARD]
    finally:
        back = orchestrate(lab, "jetson.switch", {"board": BOARD, "image": default})
    assert back.returncode == 0, back
    assert where_images(lab, site)["alice/mine"] == ["store"]
