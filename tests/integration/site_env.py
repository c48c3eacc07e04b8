"""Helpers for the site state's integration tests: a private exports file, keys, state results."""

import pathlib
import subprocess
import time
import uuid

import pytest

from tests.conftest import unexport_under

KEY_WAIT = 180  # a guard against a hang (the reactor runs a runner per event), not a measurement


def exported_paths():
    out = subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip() and not line[0].isspace()}


@pytest.fixture
def site_farm(farm):
    """``farm`` on the kernel backend with an exports file of its own; every export under the
    farm's folder and every board key accepted on the master removed afterwards."""
    exports_file = pathlib.Path(f"/etc/exports.d/jetson-test-{uuid.uuid4().hex[:8]}.exports")
    farm.pillar["sites"]["site01"]["nfs"]["exports_file"] = str(exports_file)
    farm.apply_pillar()
    yield farm
    unexport_under(farm.dir)
    exports_file.unlink(missing_ok=True)
    for minion in ("jtk1", "jtk2", "jtk3"):
        (pathlib.Path(farm.master.config["pki_dir"]) / "minions" / minion).unlink(missing_ok=True)


def state_of(ret, state_id):
    """The return of the state ``state_id`` in a ``state.apply`` return."""
    return next(v for k, v in ret.data.items() if f"_|-{state_id}_|-" in k)


def accepted_keys(master):
    ret = master.salt_key_cli(timeout=60).run("-L")
    assert ret.returncode == 0, ret
    return set(ret.data.get("minions", []))


def wait_accepted(master, minions):
    deadline = time.monotonic() + KEY_WAIT
    while not set(minions) <= accepted_keys(master):
        if time.monotonic() > deadline:
            pytest.fail(f"the master did not accept {sorted(minions)} within {KEY_WAIT}s "
                        f"(accepted: {sorted(accepted_keys(master))})")
        time.sleep(1)
