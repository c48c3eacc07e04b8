"""One install, like a Salt extension: Salt's own loaders find the modules, the runner, the states
and the grains through the package's ``salt.loader`` entry point, with no ``module_dirs``, no
``file_roots`` and nothing synced into ``extension_modules``; and the built wheel ships them."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO

# What a Salt daemon of a fresh install loads, printed as JSON: for each kind, the file each of
# our functions comes from. Run in a child process so that the Python path can be chosen.
PROBE = r"""
import json, sys
import salt.config, salt.loader

root = sys.argv[1]
minion = salt.config.minion_config(None)
minion.update(root_dir=root, cachedir=f"{root}/minion", extension_modules=f"{root}/minion/extmods",
              file_client="local", id="probe", file_roots={"base": [f"{root}/srv"]}, module_dirs=[])
master = salt.config.master_config(None)
master.update(root_dir=root, cachedir=f"{root}/master", extension_modules=f"{root}/master/extmods",
              file_roots={"base": [f"{root}/srv"]}, id="probe-master")
utils = salt.loader.utils(minion)
mods = salt.loader.minion_mods(minion, utils=utils)
loaders = {
    "modules": (mods, ["jetson_rootfs.list", "jetson_nfs.exports", "jetson_switch.versions"]),
    "runners": (salt.loader.runner(master, utils=utils), ["jetson.status", "jetson.check"]),
    "states": (salt.loader.states(minion, mods, utils, salt.loader.serializers(minion)),
               ["jetson_site.prepared", "jetson_export.present"]),
    "grains": (salt.loader.grain_funcs(minion), ["jetson.jetson_marker"]),
}
found = {}
for kind, (loader, functions) in loaders.items():
    for fun in functions:
        found[fun] = loader.file_mapping[fun.split(".")[0]][0] if fun in loader else None
print(json.dumps(found))
"""


def probe(root, env=None):
    """Run PROBE in ``root`` (never in the repository, whose own folders would come first)."""
    root.mkdir(exist_ok=True)
    out = subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=root, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_salt_loads_every_kind_from_the_installed_package(tmp_path):
    found = probe(tmp_path)
    assert all(found.values()), found
    for fun, path in found.items():
        assert pathlib.Path(path).parent.parent == REPO / "salt", (fun, path)
    assert not list((tmp_path / "minion").rglob("jetson*.py"))


def _copy_source(dest):
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", ".ruff_cache",
                                    ".pytest_cache", "demo-run")
    shutil.copytree(REPO, dest, ignore=ignore)


@pytest.mark.timeout(600)
def test_the_wheel_ships_the_loader_folders_and_its_entry_point_finds_them(tmp_path):
    _copy_source(tmp_path / "src")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(tmp_path / "src")],
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("jetson_farm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "installed")
    shipped = {name for name in names if name.startswith("jetson_farm/salt_tree/")}
    expected = {f"jetson_farm/salt_tree/{path.relative_to(REPO / 'salt')}"
                for path in (REPO / "salt").rglob("*") if path.suffix in (".py", ".sls")}
    assert shipped == expected

    # The unpacked wheel comes first on the path, as if it were the only jetson-farm installed.
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "installed"))
    found = probe(tmp_path / "daemon", env=env)
    assert all(found.values()), found
    installed = tmp_path / "installed" / "jetson_farm" / "salt_tree"
    for fun, path in found.items():
        assert pathlib.Path(path).is_relative_to(installed), (fun, path)
