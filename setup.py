"""What pyproject.toml cannot say: the Salt loader folders under salt/ ship inside the package as
``jetson_farm.salt_tree`` (named by the ``salt.loader`` entry point, jetson_farm/loader.py)."""

import os

from setuptools import find_namespace_packages, setup

SALT_TREE, SALT_DIR = "jetson_farm.salt_tree", "salt"


def salt_packages():
    """``jetson_farm.salt_tree`` and one package name per folder below salt/ (caches left out)."""
    for folder, subfolders, _ in os.walk(SALT_DIR):
        subfolders[:] = sorted(name for name in subfolders
                               if name.isidentifier() and not name.startswith("__"))
        relative = os.path.relpath(folder, SALT_DIR)
        yield SALT_TREE if relative == "." else f"{SALT_TREE}.{relative.replace(os.sep, '.')}"


setup(
    packages=[*find_namespace_packages(include=["jetson_farm*", "calendar_bridge*", "jetson_lab*"]),
              *salt_packages()],
    package_dir={SALT_TREE: SALT_DIR},
    package_data={package: ["*.py", "*.sls"] for package in salt_packages()},
)
