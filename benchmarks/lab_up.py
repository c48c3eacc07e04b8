#!/usr/bin/env python3
"""Benchmark: ``jetson-lab up`` of a fresh lab of N boards, phase by phase, then ``down --purge``.

For each size it brings a lab up in a scratch folder under /var/tmp, and prints the wall time of
each phase (from the lab's own log lines: starting daemons, enrolling boards,
placing default images, powering on and waiting for the minions), the total, the CPU seconds of
the ``jetson-lab up`` process tree (its Salt CLI children included, not the daemons) and the load
average before it started: on a busy machine the wall times say little, the CPU seconds more.

    .venv/bin/python benchmarks/lab_up.py                # 12 boards
    .venv/bin/python benchmarks/lab_up.py --sizes 3,12
"""

import argparse
import datetime
import os
import pathlib
import resource
import subprocess
import sys
import time
import uuid

BIN = pathlib.Path(sys.executable).parent
PHASES = [("starting the supervisor", "daemons"), ("enrolling boards", "enroll"),
          ("placing default images", "place"), ("powering boards on", "power+wait")]


def _stamp(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def measure(boards, base):
    lab_dir = base / f"bench-up-{uuid.uuid4().hex[:6]}"
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    try:
        proc = subprocess.run([str(BIN / "jetson-lab"), "up", "--dir", str(lab_dir), "--boards", str(boards)],
                              capture_output=True, text=True, timeout=1200, check=False)
        end = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        subprocess.run([str(BIN / "jetson-lab"), "down", "--dir", str(lab_dir), "--purge"],
                       capture_output=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"jetson-lab up --boards {boards} failed:\n{proc.stderr[-2000:]}")
    marks = {}
    for line in proc.stderr.splitlines():
        for needle, phase in PHASES:
            if needle in line and phase not in marks:
                marks[phase] = _stamp(line)
    times = [marks.get(phase) for _, phase in PHASES] + [end]
    phases = {phase: (times[i + 1] - times[i]) if None not in (times[i], times[i + 1]) else None
              for i, (_, phase) in enumerate(PHASES)}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"boards": boards, "wall": end - start, "cpu": cpu, "load": load, **phases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12", help="board counts, comma-separated (default 12)")
    parser.add_argument("--base", default="/var/tmp", help="where the scratch labs go")
    args = parser.parse_args()
    names = [phase for _, phase in PHASES]
    print(f"{'boards':>6} {'load':>5} {'wall s':>7} {'cpu s':>6} " + " ".join(f"{n:>10}" for n in names))
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, pathlib.Path(args.base))
        print(f"{row['boards']:>6} {row['load']:>5.1f} {row['wall']:>7.1f} {row['cpu']:>6.1f} "
              + " ".join(f"{row[n]:>10.1f}" if row[n] is not None else f"{'-':>10}" for n in names),
              flush=True)


if __name__ == "__main__":
    main()
