"""The jetson_export state (present/absent) through Salt's loader, on the kernel backend."""

import pathlib
import subprocess

import pytest

from jetson_farm.inventory import Inventory
from tests.conftest import unexport_under
from tests.functional.conftest import kernel_pillar


@pytest.fixture
def pillar(farm_dir, exports_file):
    return kernel_pillar(farm_dir, exports_file)


@pytest.fixture
def nfsroot(pillar):
    path = Inventory.load(pillar).board("jtk1").nfsroot
    yield path
    unexport_under(str(pathlib.Path(path).parent))


def live_paths():
    out = subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip() and not line[0].isspace()}


def test_present_exports_then_reports_no_change(states, nfsroot):
    ret = states.jetson_export.present(name="jtk1")
    assert ret.result is True
    assert ret.changes["live"] == "exported"
    assert ret.comment == f"board jtk1 exported ({nfsroot})"
    assert nfsroot in live_paths()
    again = states.jetson_export.present(name="jtk1")
    assert again.result is True
    assert again.changes == {}
    assert again.comment == "board jtk1 is already exported"


def test_present_under_test_changes_nothing_and_says_what_would(states, nfsroot, exports_file):
    ret = states.jetson_export.present(name="jtk1", test=True)
    assert ret.result is None
    assert ret.comment == f"board jtk1 would be exported ({nfsroot})"
    assert ret.changes == {"live": "exported", "file": f"added in {exports_file}"}
    assert nfsroot not in live_paths()
    assert not exports_file.exists()


def test_present_under_test_sees_a_change_of_options(loaders, states, pillar, nfsroot, exports_file):
    states.jetson_export.present(name="jtk1")
    text = exports_file.read_text()
    pillar["sites"]["site01"]["nfs"]["options"] = ["ro", "no_subtree_check"]
    loaders.set_pillar(pillar)
    ret = loaders.states.jetson_export.present(name="jtk1", test=True)
    assert ret.result is None
    assert ret.changes == {"live": "re-exported", "file": f"updated in {exports_file}"}
    assert exports_file.read_text() == text
    assert "rw" in subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30,
                                  check=True).stdout


def test_absent_unexports_and_honours_test(states, nfsroot, exports_file):
    states.jetson_export.present(name="jtk1")
    dry = states.jetson_export.absent(name="jtk1", test=True)
    assert dry.result is None and dry.comment == f"board jtk1 would be unexported ({nfsroot})"
    assert dry.changes == {"live": "unexported from 127.0.11.1", "file": f"removed from {exports_file}"}
    assert nfsroot in live_paths()
    ret = states.jetson_export.absent(name="jtk1")
    assert ret.result is True
    assert ret.changes == {"live": "unexported from 127.0.11.1", "file": f"removed from {exports_file}"}
    assert nfsroot not in live_paths()
    again = states.jetson_export.absent(name="jtk1")
    assert again.result is True and again.changes == {}
    assert states.jetson_export.absent(name="jtk1", test=True).result is True


def test_an_unknown_board_fails_as_an_invalid_request(states):
    ret = states.jetson_export.present(name="nope")
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment.startswith("invalid request: jetson_nfs: unknown board 'nope'")
    dry = states.jetson_export.present(name="nope", test=True)
    assert dry.result is False and dry.comment.startswith("invalid request:")


def test_a_failing_export_fails_the_state_and_changes_nothing(states, nfsroot, exports_file):
    pathlib.Path(nfsroot).rmdir()
    ret = states.jetson_export.present(name="jtk1")
    assert ret.result is False
    assert ret.changes == {}
    assert ret.comment == (f"board jtk1 could not be exported: jetson_nfs: nfsroot {nfsroot} is not a "
                           "directory on this server; nothing was exported")
    assert not exports_file.exists()
