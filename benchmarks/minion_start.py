#!/usr/bin/env python3
"""Benchmark: what a board minion's start costs, on the host, in a built image's own salt.

A TCG board takes tens of seconds to start its minion; this finds where, without booting one.
It mounts an overlay over a built image tree (``jetson_rootfs.build``'s cache, newest vm-base
tree by default), writes the minion config a swap injects (master 127.0.0.1, so no master is
needed), and runs ``benchmarks/minion_start_probe.py`` in the tree (chroot) with the image's
Python and salt: imports, grains, the post-connect setup, the mine's start job and a first job,
each in CPU seconds with its subprocesses. It does so ``--rounds`` times for the injected
config without the farm's board options and with them (``identity.BOARD_MINION_OPTIONS``, plus
``--extra`` YAML to try more), alternately, and prints the medians and their ratio. Needs root
(mount, chroot); writes nothing into the cached tree.

    sudo .venv/bin/python benchmarks/minion_start.py [--rootfs TREE] [--rounds 5]
    sudo .venv/bin/python benchmarks/minion_start.py --extra 'disable_grains: [disks, lvm]'
"""

import argparse
import glob
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jetson_farm.rootfs.build import DEFAULT_CACHE  # noqa: E402
from jetson_farm.rootfs.identity import BOARD_MINION_OPTIONS  # noqa: E402

PROBE = pathlib.Path(__file__).with_name("minion_start_probe.py")
PROBE_TIMEOUT = 600


def newest_tree(cache_dir):
    trees = [path for path in glob.glob(os.path.join(cache_dir, "images", "*", "rootfs"))
             if os.path.exists(os.path.join(path, "opt/salt/bin/salt-minion"))]
    if not trees:
        raise SystemExit(f"no built image with a salt-minion under {cache_dir}/images: build one first "
                         "(salt site01 jetson_rootfs.build vm-base, or benchmarks/switch.py --vm)")
    return max(trees, key=os.path.getmtime)


def mount(argv):
    subprocess.run(argv, check=True, timeout=60)


def probe(root, conf, nice):
    (root / "etc/salt/minion.d/jetson.conf").write_text(conf)
    argv = ["nice", "-n", str(nice), "chroot", str(root), "/opt/salt/bin/python3",
            "/tmp/minion_start_probe.py"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"the probe failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def medians(runs):
    phases = {name: statistics.median(run["phases"][name] for run in runs) for name in runs[0]["phases"]}
    return {"phases": phases, "cpu": statistics.median(r["cpu"] for r in runs),
            "wall": statistics.median(r["wall"] for r in runs),
            "commands": statistics.median(r["commands"] for r in runs), "grains": runs[0]["grains"]}


def report(results):
    names = list(next(iter(results.values()))["phases"])
    print(f"{'':22s}" + "".join(f"{label:>14s}" for label in results))
    for name in names:
        print(f"{name + ' (cpu s)':22s}" + "".join(f"{r['phases'][name]:14.3f}" for r in results.values()))
    for key, unit in (("cpu", "cpu s"), ("wall", "s"), ("commands", ""), ("grains", "")):
        label = f"{key} ({unit})" if unit else key
        cells = (f"{r[key]:14.3f}" if unit else f"{r[key]:14}" for r in results.values())
        print(f"{label:22s}" + "".join(cells))
    before, after = results.values()
    print(f"with/without the options, cpu: {after['cpu'] / before['cpu']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", help="a built image tree (default: the newest in the build cache)")
    parser.add_argument("--cache-dir", default=DEFAULT_CACHE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nice", type=int, default=19, help="niceness of the probe (default 19)")
    parser.add_argument("--extra", default="", help="more minion options (YAML) for the second config")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("minion_start.py needs root (it mounts an overlay and chroots into it)")
    lower = args.rootfs or newest_tree(args.cache_dir)
    base = "# as a swap writes it\nmaster: \"127.0.0.1\"\nid: \"bench-board\"\n"
    extra = f"{args.extra.strip()}\n" if args.extra else ""
    configs = {"without": base, "with": base + BOARD_MINION_OPTIONS + extra}
    print(f"image tree: {lower}\noptions tried:\n{configs['with'][len(base):]}", flush=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="minion-start-"))
    root = scratch / "root"
    mounted = []
    try:
        for sub in ("upper", "work", "root"):
            (scratch / sub).mkdir()
        mount(["mount", "-t", "overlay", "overlay", "-o",
               f"lowerdir={lower},upperdir={scratch / 'upper'},workdir={scratch / 'work'}", str(root)])
        mounted.append(root)
        for fstype, target in (("proc", "proc"), ("tmpfs", "run")):
            mount(["mount", "-t", fstype, fstype, str(root / target)])
            mounted.append(root / target)
        shutil.copy(PROBE, root / "tmp/minion_start_probe.py")
        runs = {label: [] for label in configs}
        for round_no in range(args.rounds):
            for label, conf in configs.items():
                runs[label].append(probe(root, conf, args.nice))
            print(f"round {round_no + 1}/{args.rounds}: " + ", ".join(
                f"{label} {runs[label][-1]['cpu']:.3f} cpu s" for label in configs), flush=True)
        report({label: medians(found) for label, found in runs.items()})
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
