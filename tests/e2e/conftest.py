"""The e2e tier: QEMU boards that boot Linux with their root on the lab's NFS (tests/lab_fixture.py,
``vm_lab``). Every test here is marked ``e2e`` by tests/conftest.py."""

import shutil

import pytest

from tests.caldav_servers import Radicale

NEEDS = ("qemu-system-x86_64", "debootstrap")


def pytest_collection_modifyitems(items):
    missing = [tool for tool in NEEDS if shutil.which(tool) is None]
    if missing:
        skip = pytest.mark.skip(
            reason=f"the e2e tier needs {', '.join(missing)} (scripts/setup.sh installs them)")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def radicale(tmp_path):
    with Radicale(tmp_path / "radicale") as server:
        yield server
