"""jetson_nfs and jetson_export through a real salt-master and the site minion site01."""

import pathlib
import subprocess
import uuid

import pytest

from jetson_farm.inventory import Inventory
from tests.ganesha_server import ganesha, ganesha_pillar, nfs_cat  # noqa: F401 (fixture)
from tests.integration.site_env import unexport_under


def exportfs_v_paths():
    out = subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip() and not line[0].isspace()}


def make_nfsroots(farm):
    for name, board in farm.pillar["boards"].items():
        root = pathlib.Path(board["nfsroot"])
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc" / "hostname").write_text(f"{name}\n")


@pytest.fixture
def kernel_farm(farm):
    exports_file = pathlib.Path(f"/etc/exports.d/jetson-test-{uuid.uuid4().hex[:8]}.exports")
    farm.pillar["sites"]["site01"]["nfs"]["exports_file"] = str(exports_file)
    farm.apply_pillar()
    make_nfsroots(farm)
    yield farm
    unexport_under(farm.dir)
    exports_file.unlink(missing_ok=True)


@pytest.fixture
def ganesha_farm(farm, ganesha):  # noqa: F811
    farm.pillar = ganesha_pillar(farm.dir, ganesha)
    farm.apply_pillar()
    make_nfsroots(farm)
    yield farm
    farm.call("jetson_nfs.unexport", "jtk1")
    farm.call("jetson_nfs.unexport", "jtk2")


def test_kernel_export_and_unexport_through_the_master(kernel_farm):
    nfsroot = Inventory.load(kernel_farm.pillar).board("jtk1").nfsroot
    ret = kernel_farm.salt("jetson_nfs.export", "jtk1")
    assert ret.returncode == 0, ret
    assert ret.data["changes"]["live"] == "exported"
    assert nfsroot in exportfs_v_paths()
    assert kernel_farm.salt("jetson_nfs.is_exported", "jtk1").data is True
    again = kernel_farm.salt("jetson_nfs.export", "jtk1")
    assert again.returncode == 0 and again.data["changed"] is False
    ret = kernel_farm.salt("jetson_nfs.unexport", "jtk1")
    assert ret.returncode == 0, ret
    assert ret.data["changes"]["live"] == "unexported from 127.0.11.1"
    assert nfsroot not in exportfs_v_paths()


def test_the_export_state_through_the_master(kernel_farm):
    ret = kernel_farm.salt("state.single", "jetson_export.present", name="jtk2")
    assert ret.returncode == 0, ret
    (state,) = ret.data.values()
    assert state["result"] is True and state["changes"]["live"] == "exported"
    ret = kernel_farm.salt("state.single", "jetson_export.absent", name="jtk2", test=True)
    (state,) = ret.data.values()
    assert state["result"] is None and state["comment"].startswith("board jtk2 would be unexported")
    ret = kernel_farm.salt("state.single", "jetson_export.absent", name="jtk2")
    (state,) = ret.data.values()
    assert state["result"] is True and state["changes"]["live"] == "unexported from 127.0.12.1"


def test_ganesha_export_is_readable_by_a_real_client_and_unexport_is_not(ganesha_farm, ganesha):  # noqa: F811
    nfsroot = Inventory.load(ganesha_farm.pillar).board("jtk1").nfsroot
    ret = ganesha_farm.salt("jetson_nfs.export", "jtk1")
    assert ret.returncode == 0, ret
    read = nfs_cat(ganesha, nfsroot, "etc/hostname")
    assert read.returncode == 0, read.stderr
    assert read.stdout == "jtk1\n"
    listed = ganesha_farm.salt("jetson_nfs.exports")
    assert [e["board"] for e in listed.data if e["known"]] == ["jtk1"]
    ret = ganesha_farm.salt("jetson_nfs.unexport", "jtk1")
    assert ret.returncode == 0, ret
    assert nfs_cat(ganesha, nfsroot, "etc/hostname").returncode != 0
    assert ganesha_farm.salt("jetson_nfs.is_exported", "jtk1").data is False


def test_bad_input_fails_with_a_clear_error(farm):
    ret = farm.salt("jetson_nfs.export", "nope")
    assert ret.returncode != 0
    assert "unknown board 'nope': it is not in the jetson pillar" in str(ret.data)
    ret = farm.salt("jetson_nfs.export", "Bad;Name")
    assert ret.returncode != 0
    assert "invalid board name 'Bad;Name'" in str(ret.data)
    farm.pillar["sites"]["site01"]["nfs"]["backend"] = "nfs9"
    farm.apply_pillar()
    ret = farm.salt("jetson_nfs.exports")
    assert ret.returncode != 0
    assert "sites.site01.nfs.backend: 'nfs9' is not one of ('kernel', 'ganesha')" in str(ret.data)


def test_wait_idle_through_the_master_names_what_held(farm):
    ret = farm.salt("jetson_nfs.wait_idle", "jtk1", timeout=1)
    assert ret.returncode != 0
    assert "board jtk1 is not idle after 1s: it answers ping at 127.0.11.1" in str(ret.data)
