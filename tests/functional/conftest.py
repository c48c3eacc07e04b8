"""The modules through Salt's real loader, in this process (no daemons)."""

import json
import pathlib
import uuid

import pytest
from saltfactories.utils.functional import Loaders

from tests.conftest import SALT_DIR, make_pillar


@pytest.fixture
def loaders(salt_factories, farm_dir, pillar):
    """A minion ``site01`` loader over the repo's ``salt/_*`` folders, with ``pillar`` compiled."""
    pillar_dir = farm_dir / "pillar"
    pillar_dir.mkdir()
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - jetson\n")
    (pillar_dir / "jetson.sls").write_text(json.dumps({"jetson": pillar}))
    factory = salt_factories.salt_minion_daemon(
        "site01",
        overrides={
            "file_client": "local",
            "pillar_roots": {"base": [str(pillar_dir)]},
            "file_roots": {"base": [str(SALT_DIR), str(SALT_DIR / "states")]},
            "module_dirs": [str(SALT_DIR / "_modules")],
            "states_dirs": [str(SALT_DIR / "_states")],
            "grains_dirs": [str(SALT_DIR / "_grains")],
            "utils_dirs": [str(SALT_DIR / "_utils")],
        },
    )
    loaders = Loaders(factory.config.copy())
    yield loaders
    loaders.reset_state()


@pytest.fixture
def modules(loaders):
    return loaders.modules


@pytest.fixture
def states(loaders):
    return loaders.states


@pytest.fixture
def exports_file():
    """A kernel-backend exports file of this test's own, removed afterwards."""
    path = pathlib.Path(f"/etc/exports.d/jetson-test-{uuid.uuid4().hex[:8]}.exports")
    yield path
    path.unlink(missing_ok=True)


def kernel_pillar(farm_dir, exports_file):
    """The farm's pillar on the kernel backend with ``exports_file``, every nfsroot made."""
    pillar = make_pillar(farm_dir, exports_file=str(exports_file))
    for board in pillar["boards"].values():
        pathlib.Path(board["nfsroot"]).mkdir()
    return pillar
