"""Runs inside a built image (``benchmarks/minion_start.py`` copies it there and runs it with the
image's own salt): the pieces of a board minion's start, up to where it would connect, timed in
CPU seconds (its own and its subprocesses'), and how many commands it ran. No master is needed.

Prints one JSON line: ``{"phases": {name: cpu_s}, "cpu": s, "wall": s, "commands": n, "grains": n}``.
"""

import json
import os
import subprocess
import time

STARTED = time.perf_counter()
COMMANDS = [0]
_popen_init = subprocess.Popen.__init__


def _counted_popen_init(self, *args, **kwargs):
    COMMANDS[0] += 1
    _popen_init(self, *args, **kwargs)


subprocess.Popen.__init__ = _counted_popen_init


def cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


phases = {}
last = [cpu()]


def mark(name):
    now = cpu()
    phases[name] = round(now - last[0], 3)
    last[0] = now


import salt.channel.server  # noqa: E402  (the minion's own event bus imports it)
import salt.cli.daemons  # noqa: E402
import salt.config  # noqa: E402
import salt.loader  # noqa: E402
import salt.minion  # noqa: E402
import salt.utils.schedule  # noqa: E402

mark("imports")
opts = salt.config.minion_config("/etc/salt/minion")
cached = os.path.join(opts["cachedir"], "grains.cache.p")
if os.path.exists(cached):
    os.unlink(cached)  # a board's first start: its cache is in /run
minion = salt.minion.Minion(opts)  # computes the grains
mark("grains")
# What _post_master_init does once connected (the pillar comes from the master: none here).
minion.connected = False
minion.opts["pillar"] = {}
minion.opts["resources"] = minion._discover_resources()
minion._setup_core()
minion.schedule = salt.utils.schedule.Schedule(minion.opts, minion.functions, minion.returners)
mark("post_connect")
if minion.opts["mine_enabled"]:
    # The scheduler's __mine_interval job (run_on_start): a job's loaders, then mine.update.
    minion.gen_modules()
    minion.functions["mine.update"]()
mark("mine_job")
# What the switch asks a board (step 7), as a threaded job runs it.
minion.gen_modules()
minion.functions["test.ping"]()
minion.functions["grains.get"]("jetson_marker")
mark("first_job")
print(json.dumps({"phases": phases, "cpu": round(sum(phases.values()), 3),
                  "wall": round(time.perf_counter() - STARTED, 3), "commands": COMMANDS[0],
                  "grains": len(minion.opts["grains"])}))
