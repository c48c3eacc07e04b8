"""The e2e tier: QEMU boards that boot Linux with their root on the lab's NFS (tests/lab_fixture.py,
``vm_lab``). Every test here is marked ``e2e`` by tests/conftest.py."""

import os
import shutil

import pytest

from tests.caldav_servers import Radicale

NEEDS = ("qemu-system-x86_64", "debootstrap")


# Opt-in until the tier has passed here once: written in the session of issue 7, it never ran to
# the end on this 2-core machine (its VM boots were 5-10x slower than idle under the other tests'
# load). ``JETSON_E2E=1 ./scripts/test.sh tests/e2e`` runs it.
OPT_IN = "JETSON_E2E"


def _skip_reason():
    missing = [tool for tool in NEEDS if shutil.which(tool) is None]
    if missing:
        return f"the e2e tier needs {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.environ.get(OPT_IN) != "1":
        return (f"the e2e tier is opt-in ({OPT_IN}=1) until it has passed on this machine: "
                "see issue 7 and docs/lab.md")
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
