"""jetson_boards_site: the site's boards from pillar (records, identities, exports) and the
retirement of a board pillar no longer lists, through Salt's loader on real files and exportfs."""

import fcntl
import hashlib
import json
import os
import pathlib
import stat
import subprocess

import pytest

from tests.conftest import unexport_under
from tests.functional.conftest import kernel_pillar


def exported_paths():
    out = subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip() and not line[0].isspace()}


def manifest(folder):
    """``{relative path: sha256}`` of every regular file under ``folder``."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def pillar(farm_dir, exports_file):
    """The kernel-backend farm's pillar (what the ``loaders`` fixture compiles)."""
    return kernel_pillar(farm_dir, exports_file)


@pytest.fixture
def site(loaders, farm_dir, pillar):
    """The farm with its store prepared; its exports withdrawn afterwards."""
    assert loaders.states.jetson_site.prepared(name="jetson-store").result is True
    yield pillar
    unexport_under(farm_dir)


def present(loaders, **kwargs):
    return loaders.states.jetson_boards_site.present(name="jetson-boards", **kwargs)


def retired(loaders, **kwargs):
    return loaders.states.jetson_boards_site.retired(name="jetson-retired-boards", **kwargs)


def test_present_under_test_changes_nothing_then_applies_once(loaders, site, farm_dir):
    would = present(loaders, test=True)
    assert would.result is None, would
    assert set(would.changes) == {"jtk1", "jtk2"}
    assert would.changes["jtk1"] == {"record": "recorded", "identity": "made", "export": "exported"}
    assert not (farm_dir / "root" / "boards" / "jtk1").exists()
    assert not {str(farm_dir / "NFSRoot1"), str(farm_dir / "NFSRoot2")} & exported_paths()

    done = present(loaders)
    assert done.result is True, done
    assert set(done.changes) == {"jtk1", "jtk2"}
    assert loaders.bus.wait_for("jetson/site/enroll")["boards"] == ["jtk1", "jtk2"]  # the master's prompt
    identity = farm_dir / "root" / "boards" / "jtk1" / "identity"
    assert stat.S_IMODE((identity / "minion.pem").stat().st_mode) == 0o600
    record = json.loads((farm_dir / "root" / "boards" / "jtk1" / "board.json").read_text())
    assert record == {"board": "jtk1", "minion": "jtk1", "ip": "127.0.11.1",
                      "nfsroot": str(farm_dir / "NFSRoot1")}
    assert {str(farm_dir / "NFSRoot1"), str(farm_dir / "NFSRoot2")} <= exported_paths()

    again = present(loaders)
    assert (again.result, again.changes) == (True, {}), again
    assert present(loaders, test=True).changes == {}


def test_a_board_enrolled_before_host_keys_gets_them_and_keeps_its_minion_key(loaders, site, farm_dir):
    assert present(loaders).result is True
    identity = farm_dir / "root" / "boards" / "jtk1" / "identity"
    minion_key = (identity / "minion.pem").read_bytes()
    for path in identity.glob("ssh_host_*"):
        path.unlink()
    would = present(loaders, test=True)
    assert would.changes == {"jtk1": {"identity": "SSH host keys made"}}, would
    assert not list(identity.glob("ssh_host_*"))
    done = present(loaders)
    assert done.changes == {"jtk1": {"identity": "SSH host keys made"}}, done
    assert sorted(p.name for p in identity.glob("ssh_host_*")) == sorted(
        f"ssh_host_{kind}_key{ext}" for kind in ("ed25519", "ecdsa", "rsa") for ext in ("", ".pub"))
    assert (identity / "minion.pem").read_bytes() == minion_key


def test_a_parked_board_stays_unexported(loaders, site, farm_dir):
    assert present(loaders).result is True
    loaders.modules.jetson_nfs.unexport("jtk2")
    (farm_dir / "root" / "state" / "jtk2.json").write_text(json.dumps({"board": "jtk2", "image": None}))
    ret = present(loaders)
    assert (ret.result, ret.changes) == (True, {}), ret
    assert "jtk2: parked (no image): left unexported" in ret.comment
    assert str(farm_dir / "NFSRoot2") not in exported_paths()


def make_image(farm_dir, user, name):
    image = farm_dir / "root" / "images" / user / name
    (image / "etc").mkdir(parents=True)
    (image / "etc" / "hostname").write_text("mine\n")
    (image / "home").mkdir()
    (image / "home" / "notes.txt").write_text("alice's work\n")
    return image


def put_on_board(loaders, board, image):
    loaders.modules.jetson_nfs.unexport(board)
    loaders.modules.jetson_rootfs.swap(board, image)
    loaders.modules.jetson_nfs.export(board)


def test_removing_a_board_parks_its_image_unexports_it_and_keeps_its_identity(loaders, site, farm_dir):
    assert present(loaders).result is True
    slot = make_image(farm_dir, "alice", "cuda-dev")
    before = manifest(slot)
    put_on_board(loaders, "jtk2", "alice/cuda-dev")
    assert not slot.exists()
    pem = (farm_dir / "root" / "boards" / "jtk2" / "identity" / "minion.pem").read_bytes()

    del site["boards"]["jtk2"]
    loaders.set_pillar(site)
    would = retired(loaders, test=True)
    assert would.result is None, would
    assert would.changes == {"jtk2": {"unexport": True, "park": "alice/cuda-dev", "attic": True}}
    assert str(farm_dir / "NFSRoot2") in exported_paths()

    done = retired(loaders)
    assert done.result is True, done
    assert done.changes["jtk2"]["parked"] == "alice/cuda-dev back in its owner's slot"
    assert manifest(slot) == before, "the image is back in alice's slot, injected files restored"
    assert str(farm_dir / "NFSRoot2") not in exported_paths()
    assert "jtk2" not in exports_file_boards(site)
    attic = pathlib.Path(done.changes["jtk2"]["attic"])
    assert attic.parent == farm_dir / "root" / "attic" / "boards"
    assert (attic / "identity" / "minion.pem").read_bytes() == pem
    assert json.loads((attic / "journal.json").read_text())["image"] is None
    assert not (farm_dir / "root" / "boards" / "jtk2").exists()

    again = retired(loaders)
    assert (again.result, again.changes, again.comment) == (True, {}, "no board to retire")


def exports_file_boards(pillar):
    path = pillar["sites"]["site01"]["nfs"]["exports_file"]
    text = pathlib.Path(path).read_text() if os.path.exists(path) else ""
    return text


def test_a_busy_booked_or_mid_switch_board_is_refused_with_the_reason(loaders, site, farm_dir):
    assert present(loaders).result is True
    state = farm_dir / "root" / "state"
    del site["boards"]["jtk2"]
    loaders.set_pillar(site)

    loaders.modules.jetson_rootfs.set_bookings([{"image": "alice/cuda-dev", "board": "jtk2", "user": "alice",
                                                 "start": "2026-01-01T09:00:00+00:00",
                                                 "end": "2999-01-01T18:00:00+00:00"}])
    ret = retired(loaders)
    assert ret.result is False
    assert "jtk2: board jtk2 is booked by alice from 2026-01-01T09:00:00+00:00" in ret.comment
    loaders.modules.jetson_rootfs.set_bookings([])

    with open(state / "jtk2.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ret = retired(loaders)
    assert ret.result is False
    assert "board jtk2 is busy: a swap, park or reconcile works on it now" in ret.comment

    (state / "jtk2.json").write_text(json.dumps({
        "board": "jtk2", "image": None, "operation": {"kind": "swap", "phase": "move-target",
                                                       "current": None, "target": "alice/x",
                                                       "started": "2026-11-30T05:00:00+00:00"}}))
    ret = retired(loaders)
    assert ret.result is False
    assert "board jtk2 is in the middle of a swap (phase move-target" in ret.comment
    assert ret.changes == {}
    assert str(farm_dir / "NFSRoot2") in exported_paths(), "a refused board is left as it was"
    assert (farm_dir / "root" / "boards" / "jtk2" / "identity" / "minion.pem").is_file()


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_an_nfsroot_that_is_a_symlink_or_a_file_is_refused(states, farm_dir, kind):
    nfsroot = farm_dir / "NFSRoot1"
    nfsroot.rmdir()  # made by the module's pillar fixture
    if kind == "symlink":
        (farm_dir / "elsewhere").mkdir()
        nfsroot.symlink_to(farm_dir / "elsewhere")
        message = f"the nfsroot {nfsroot} of board jtk1 is a symlink"
    else:
        nfsroot.write_text("not a folder")
        message = f"the nfsroot {nfsroot} of board jtk1 is not a directory"
    ret = states.jetson_site.prepared(name="jetson-store")
    assert ret.result is False
    assert message in ret.comment
    assert not (farm_dir / "root").exists(), "nothing is made when a check fails"


def test_the_store_gets_its_owners_and_modes(states, farm_dir):
    images = farm_dir / "root" / "images"
    images.mkdir(parents=True)
    os.chmod(images, 0o777)
    os.chown(images, 1000, 1000)
    would = states.jetson_site.prepared(name="jetson-store", test=True)
    assert would.changes["would fix"] == {str(images): "owner 1000:1000 -> 0:0, mode 0777 -> 0755"}
    done = states.jetson_site.prepared(name="jetson-store")
    assert done.result is True
    info = images.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o755)
    assert stat.S_IMODE((farm_dir / "root" / "attic").stat().st_mode) == 0o700
    assert states.jetson_site.prepared(name="jetson-store").changes == {}


def test_a_board_moved_to_another_site_is_retired_here(loaders, site, farm_dir):
    assert present(loaders).result is True
    site["sites"]["site02"] = dict(site["sites"]["site01"], minion="site02", root=str(farm_dir / "root2"))
    site["boards"]["jtk2"]["site"] = "site02"
    loaders.set_pillar(site)
    done = retired(loaders)
    assert done.result is True, done
    assert set(done.changes) == {"jtk2"}
    assert str(farm_dir / "NFSRoot2") not in exported_paths()
    assert present(loaders).changes == {}, "jtk1 is still this site's, unchanged"
