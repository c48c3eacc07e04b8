"""The ``salt.loader`` entry point: where Salt finds this project's modules, runner, states, grains.

Installing the package into Salt's Python (``salt-pip install jetson-farm``, or pip in Salt's
virtualenv) is the whole install: the master and the site servers load the modules of the
installed version, no ``saltutil.sync_*`` needed. The folders are the repository's
``salt/_<kind>``, shipped inside the package as ``jetson_farm.salt_tree`` (setup.py).

A copy synced into a minion's or the master's ``extension_modules`` comes first in Salt's search
order, so it hides the installed one: ``salt-run jetson.check`` reports such copies when their
version is not the installed core's (:mod:`jetson_farm.versions`).
"""

import os

from jetson_farm.salt_noise import hide_salt_leak_warnings

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Salt imports this module in every process that loads our extension (salt-run, an in-process
# RunnerClient such as the bridge's, the master, the minions): the one place to hide the
# finalizer warnings about Salt's own objects (jetson_farm/salt_noise.py).
hide_salt_leak_warnings()


def salt_tree():
    """The folder holding ``_modules``, ``_runners``, ... and the SLS tree ``states/``.

    In a built package it is ``jetson_farm/salt_tree``; in a source checkout (and an editable
    install, whose import hooks do not map a folder without ``__init__.py``) it is ``salt/``
    beside ``jetson_farm/``.
    """
    shipped = os.path.join(PACKAGE_DIR, "salt_tree")
    if os.path.isdir(shipped):
        return shipped
    return os.path.join(os.path.dirname(PACKAGE_DIR), "salt")


def loader_dirs():
    """``{kind: [folder]}`` for each ``_<kind>`` folder, e.g. ``{"modules": [".../_modules"]}``.

    Salt's loader calls this for every loader it builds and takes the folders under its own kind
    (``modules``, ``runners``, ``states``, ``grains``...).
    """
    root = salt_tree()
    return {name[1:]: [os.path.join(root, name)] for name in sorted(os.listdir(root))
            if name.startswith("_") and os.path.isdir(os.path.join(root, name))}
