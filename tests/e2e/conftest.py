"""The e2e tier: QEMU boards that boot Linux with their root on the lab's NFS (tests/lab_fixture.py,
``vm_lab``). Every test here is marked ``e2e`` by tests/conftest.py."""

import os
import shutil

import pytest

from tests.caldav_servers import Radicale

NEEDS = ("qemu-system-x86_64", "debootstrap")


# On by default, as CI runs it; ``JETSON_E2E=0`` leaves the tier out on a machine too slow for
# TCG boots (it then reports every test skipped, with this reason).
OPT_OUT = "JETSON_E2E"


def _skip_reason():
    missing = [tool for tool in NEEDS if shutil.which(tool) is None]
    if missing:
        return f"the e2e tier needs {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.environ.get(OPT_OUT) == "0":
        return f"the e2e tier was turned off ({OPT_OUT}=0): see docs/lab.md"
    return None


def pytest_collection_modifyitems(items):
    reason = _skip_reason()
    if reason:
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def radicale(tmp_path):
    with Radicale(tmp_path / "radicale") as server:
        yield server
