"""Is every synced copy of the Salt modules the installed core's version?

The modules, runner, states and grains come with the installed package (the ``salt.loader``
entry point, :mod:`jetson_farm.loader`). A copy left in a daemon's ``extension_modules`` by
``saltutil.sync_*`` comes first in Salt's search order and hides the installed one; if it is of
another version than the core it imports, it calls functions that may have changed. Each file
under ``salt/_*/`` states its version as ``__jetson_farm_version__``; this reads it from the file
(never importing it) and names every copy whose version is not the core's.
"""

import os
import re

from jetson_farm import __version__
from jetson_farm.loader import loader_dirs

VERSION_RE = re.compile(r"^__jetson_farm_version__\s*=\s*[\"']([^\"'\n]+)[\"']", re.MULTILINE)


def file_version(path):
    """The ``__jetson_farm_version__`` written in the file ``path``, or None if it has none."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        match = VERSION_RE.search(handle.read())
    return match.group(1) if match else None


def synced_copies(extension_modules):
    """``{"modules/jetson_nfs.py": version or None}``: our files found in ``extension_modules``."""
    found = {}
    if not extension_modules:
        return found
    for kind, folders in sorted(loader_dirs().items()):
        for folder in folders:
            for name in sorted(os.listdir(folder)):
                copy = os.path.join(extension_modules, kind, name)
                if name.endswith(".py") and os.path.isfile(copy):
                    found[f"{kind}/{name}"] = file_version(copy)
    return found


def report(where, extension_modules):
    """``{"core", "synced", "problems"}`` for the Salt daemon ``where`` (``master``, ``site01``...)."""
    synced = synced_copies(extension_modules)
    problems = [f"{where}: the synced {label} in {extension_modules} is jetson-farm "
                f"{version or '(no version)'} but the installed core is {__version__}; it hides the "
                "installed module: sync again (saltutil.sync_all) or delete it"
                for label, version in synced.items() if version != __version__]
    return {"core": __version__, "synced": synced, "problems": problems}


def farm_report(inventory, ops, master):
    """``{"master": master, <site>: its report, "problems": [...]}``, asking each site server
    (``jetson_switch.versions``); a site that does not answer is noted, not counted a problem."""
    found, problems = {"master": master}, list(master["problems"])
    for name, site in sorted(inventory.sites.items()):
        answered, value = ops.try_call(site.minion, "jetson_switch.versions", timeout=10)
        found[name] = value if answered else f"no answer from {site.minion}"
        if not answered:
            continue
        if not isinstance(value, dict) or "core" not in value:
            problems.append(f"{name}: jetson_switch.versions failed on {site.minion} ({value}): its jetson "
                            f"modules are older than {__version__}, or jetson-farm is not installed there")
            continue
        problems += value["problems"]
        if value["core"] != master["core"]:
            problems.append(f"{name}: jetson-farm {value['core']} is installed on {site.minion}, "
                            f"{master['core']} on the master")
    found["problems"] = problems
    return found
