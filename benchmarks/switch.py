#!/usr/bin/env python3
"""Benchmark: the switch orchestration on 1, 16 and 32 lab boards, boot staggering off and on.

Brings up its own lab (``jetson-lab up --boards <max>`` in a scratch folder; ``--lab-dir`` uses
a running one instead), clones one image per board (an image sits at one nfsroot at most), and
for each size switches boards jtk1..jtkN in ONE ``salt-run state.orch jetson.switch`` (what an
admin runs), then releases them. It prints one table:

- the wall time of each switch run, and its ratio to the one-board run;
- the farm's overhead: wall minus the same boards' own boot (first power-on -> last minion
  start event, the boards powered on together with the same stagger and no switch), measured
  with power cycles in the same run;
- the farm's own CPU seconds per board switched, from /proc: the ``salt-run`` process tree
  (reaped children of this script), the salt-master's processes and the site minion's;
- the time per step (from the ``jetson/switch/<board>/<step>`` events: mean over the boards).

Targets (issue 8): one-board overhead <= 1.5 s; 16 boards <= 1.5x one; 32 boards <= 2x one;
farm CPU <= 0.3 CPU-s per board.

    .venv/bin/python benchmarks/switch.py                          # 1, 16, 32 boards, stagger 0 and 0.2 s
    .venv/bin/python benchmarks/switch.py --sizes 1,4 --staggers 0  # quicker
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid

import salt.config
import salt.utils.event

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jetson_farm.switch import STEPS  # noqa: E402
from jetson_lab import client  # noqa: E402
from jetson_lab.config import LabConfig  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")


def run(argv, timeout):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc.stdout + proc.stderr


def cpu_of(program, config_dir):
    """CPU seconds (own + reaped children) of every live ``program -c config_dir`` process."""
    total = 0.0
    wanted = f" -c {config_dir} ".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                # Salt sets its process titles: the arguments may be one string with spaces.
                command = handle.read().replace(b"\0", b" ") + b" "
            if program.encode() not in command or wanted not in command:
                continue
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
    return total


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, lab_dir):
        self.config = LabConfig.read(lab_dir)
        self.master = str(self.config.master_dir)
        opts = salt.config.master_config(str(self.config.master_dir / "master"))
        self.bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
        self.bus.subscribe("")
        self.events, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while not self._stop.is_set():
            event = self.bus.get_event(wait=0.2, full=True)
            if event:
                self.events.append((time.monotonic(), event["tag"], event["data"]))

    def salt_run(self, *args, timeout=1800):
        return run([BIN / "salt-run", "-c", self.master, "--out=json", *args], timeout)

    def salt(self, *args, timeout=300):
        return run([BIN / "salt", "-c", self.master, "--out=json", *args], timeout)

    def answers(self, board):
        code, data, _ = self.salt("-t", "5", board, "test.ping", timeout=60)
        return code == 0 and isinstance(data, dict) and data.get(board) is True

    def boot_together(self, boards, stagger=0.0):
        """Seconds from the first power-on to the last minion start event when ``boards`` are
        powered on together (``stagger`` seconds apart), with no switch around them."""
        socket = str(self.config.socket_path)
        for board in boards:
            client.power(socket, board, "off")
        mark = len(self.events)
        start = time.monotonic()
        for index, board in enumerate(boards):
            if index and stagger:
                time.sleep(stagger)
            client.power(socket, board, "on")
        waiting = {f"salt/minion/{board}/start" for board in boards}
        last = start
        while waiting:
            for when, tag, _ in self.events[mark:]:
                if tag in waiting:
                    waiting.discard(tag)
                    last = max(last, when)
            time.sleep(0.05)
        while not all(self.answers(board) for board in boards):
            time.sleep(0.2)
        return last - start

    def clone_images(self, boards):
        for board in boards:
            image = f"alice/bench-{board}"
            code, _, out = run([BIN / "salt-call", "-c", self.config.site_dir, "--out=json",
                                "jetson_rootfs.info", image], 120)
            if code != 0:
                code, _, out = run([BIN / "salt-call", "-c", self.config.site_dir, "--out=json",
                                    "jetson_rootfs.clone", "alice/cuda-dev", image], 300)
                if code != 0:
                    raise SystemExit(f"clone {image} failed: {out[-2000:]}")

    def farm_cpu(self):
        return {"salt-run": children_cpu(), "master": cpu_of("salt-master", self.config.master_dir),
                "site": cpu_of("salt-minion", self.config.site_dir)}

    def switch(self, boards, stagger):
        pillar = {"boards": {board: f"alice/bench-{board}" for board in boards}, "stagger": stagger}
        mark = len(self.events)
        before = self.farm_cpu()
        start = time.monotonic()
        code, _, out = self.salt_run("state.orch", "jetson.switch", f"pillar={json.dumps(pillar)}")
        wall = time.monotonic() - start
        after = self.farm_cpu()
        if code != 0:
            raise SystemExit(f"switch of {len(boards)} boards failed: {out[-4000:]}")
        steps = {step: [] for step in STEPS}
        for _, tag, data in self.events[mark:]:
            parts = tag.split("/")
            if len(parts) == 4 and parts[:2] == ["jetson", "switch"] and parts[3] in steps:
                steps[parts[3]].append(data.get("seconds", 0.0))
        cpu = {part: after[part] - before[part] for part in before}
        return wall, steps, cpu

    def release(self, boards):
        pillar = json.dumps({"boards": boards})
        code, _, out = self.salt_run("state.orch", "jetson.release", f"pillar={pillar}")
        if code != 0:
            raise SystemExit(f"release failed: {out[-4000:]}")

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.bus.destroy()


def print_table(boot, rows):
    single = {stagger: wall for size, stagger, wall, _, _, _ in rows if size == 1}
    print(f"\nlab board's own boot (power on -> minion start event, alone, median of 3): {boot:.2f} s")
    print("targets: one-board overhead <= 1.5 s; 16 boards <= 1.5x one; 32 boards <= 2x one; "
          "farm CPU <= 0.3 CPU-s per board\n")
    head = (f"{'boards':>6} {'stagger':>7} {'wall s':>7} {'x one':>6} {'boot s':>6} {'over s':>6} "
            f"{'CPU-s/board':>11} {'salt-run':>8} {'master':>7} {'site':>6}  "
            + " ".join(f"{step[:7]:>7}" for step in STEPS))
    print(head)
    print("-" * len(head))
    for size, stagger, wall, own_boot, steps, cpu in rows:
        one = single.get(stagger) or next(iter(single.values()), None)
        ratio = f"{wall / one:5.2f}x" if one else "-"
        total = sum(cpu.values())
        means = " ".join(f"{statistics.mean(v) if v else 0:7.2f}" for v in steps.values())
        print(f"{size:>6} {stagger:>7.2f} {wall:>7.1f} {ratio:>6} {own_boot:>6.2f} {wall - own_boot:>6.2f} "
              f"{total / size:>11.3f} {cpu['salt-run'] / size:>8.3f} {cpu['master'] / size:>7.3f} "
              f"{cpu['site'] / size:>6.3f}  {means}")
    print("\n(step columns: mean seconds per board; 'boot': the same boards' own boot, powered on "
          "together with the same stagger and no switch;\n 'over': wall minus that boot; CPU from /proc)")


def close_lab(bench, lab_dir, own):
    """Close the bench's clients; bring down and remove the lab if this run brought it up."""
    bench.close()
    if own:
        run([BIN / "jetson-lab", "down", "--dir", lab_dir, "--purge"], 600)
        shutil.rmtree(lab_dir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,16,32", help="board counts, comma-separated")
    parser.add_argument("--staggers", default="0,0.2", help="seconds between power-ons, comma-separated")
    parser.add_argument("--lab-dir", help="use this running lab instead of bringing one up")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    staggers = [float(s) for s in args.staggers.split(",")]
    lab_dir = args.lab_dir or f"/var/tmp/jetson-bench-{uuid.uuid4().hex[:6]}"
    if not args.lab_dir:
        code, _, out = run([BIN / "jetson-lab", "up", "--dir", lab_dir, "--boards", max(sizes)], 1800)
        if code != 0:
            raise SystemExit(f"jetson-lab up failed: {out[-3000:]}")
    bench = Bench(lab_dir)
    try:
        boards = sorted(bench.config.boards, key=lambda b: int(b[3:]))
        bench.clone_images(boards[: max(sizes)])
        boot = statistics.median(bench.boot_together(boards[:1]) for _ in range(3))
        rows = []
        for stagger in staggers:
            for size in sizes:
                if size == 1 and stagger and rows:
                    continue  # staggering changes nothing for one board
                chosen = boards[:size]
                own_boot = boot if size == 1 else bench.boot_together(chosen, stagger)
                wall, steps, cpu = bench.switch(chosen, stagger)
                bench.release(chosen)
                rows.append((size, stagger, wall, own_boot, steps, cpu))
                print(f"{size:>3} board(s), stagger {stagger}: wall {wall:6.1f} s, farm CPU "
                      f"{sum(cpu.values()):6.1f} s", flush=True)
        print_table(boot, rows)
    finally:
        close_lab(bench, lab_dir, own=not args.lab_dir)


if __name__ == "__main__":
    if "--vm" in sys.argv[1:]:  # the switch of VM boards booting over NFS: benchmarks/switch_vm.py
        import switch_vm

        switch_vm.main([arg for arg in sys.argv[1:] if arg != "--vm"])
    else:
        main()
