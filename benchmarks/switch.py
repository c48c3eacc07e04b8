#!/usr/bin/env python3
"""Benchmark: the switch orchestration on 1, 4, 16 and 32 lab boards.

Brings up its own lab (``jetson-lab up --boards <max>`` in a scratch folder; ``--lab-dir`` uses
a running one instead), clones one image per board (an image sits at one nfsroot at most), and
for each size switches boards jtk1..jtkN in ONE ``state.orch jetson.switch`` run, then releases
them. It prints:

- the wall time of each switch run;
- the time per step (from the ``jetson/switch/<board>/<step>`` events: mean and max over boards);
- the overhead above the boards' own boot: wall time minus a lab board's start-to-minion-ready
  time, measured alone first (power on -> minion answers ``test.ping``).

Targets: overhead under 5 s for one board; 16 boards in one run under 1.5x the one-board time.

    .venv/bin/python benchmarks/switch.py                 # 1, 4, 16, 32 boards
    .venv/bin/python benchmarks/switch.py --sizes 1,4     # quicker
"""

import argparse
import json
import pathlib
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

from jetson_farm.runner.plan import STEPS  # noqa: E402
from jetson_lab import client  # noqa: E402
from jetson_lab.config import LabConfig  # noqa: E402

BIN = pathlib.Path(sys.executable).parent


def run(argv, timeout):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          check=False)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc.stdout + proc.stderr


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
        code, data, _ = self.salt("-t", "2", board, "test.ping", timeout=60)
        return code == 0 and isinstance(data, dict) and data.get(board) is True

    def boot_alone(self, board, rounds=3):
        """Seconds from power-on to the minion answering, for one board on its own (median)."""
        times = []
        for _ in range(rounds):
            client.power(str(self.config.socket_path), board, "off")
            while self.answers(board):
                time.sleep(0.5)
            mark = len(self.events)
            start = time.monotonic()
            client.power(str(self.config.socket_path), board, "on")
            while True:
                started = [t for t, tag, _ in self.events[mark:] if tag == f"salt/minion/{board}/start"]
                if started and self.answers(board):
                    times.append(started[0] - start)
                    break
                time.sleep(0.1)
        return statistics.median(times)

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

    def switch(self, boards):
        pillar = {"boards": {board: f"alice/bench-{board}" for board in boards}}
        mark = len(self.events)
        start = time.monotonic()
        code, _, out = self.salt_run("state.orch", "jetson.switch", f"pillar={json.dumps(pillar)}")
        wall = time.monotonic() - start
        if code != 0:
            raise SystemExit(f"switch of {len(boards)} boards failed: {out[-4000:]}")
        steps = {step: [] for step in STEPS}
        boots = []
        for _, tag, data in self.events[mark:]:
            parts = tag.split("/")
            if len(parts) == 4 and parts[:2] == ["jetson", "switch"] and parts[3] in steps:
                steps[parts[3]].append(data.get("seconds", 0.0))
                if parts[3] == "verify" and "boot_seconds" in data:
                    boots.append(data["boot_seconds"])
        return wall, steps, boots

    def release(self, boards):
        pillar = json.dumps({"boards": boards})
        code, _, out = self.salt_run("state.orch", "jetson.release", f"pillar={pillar}")
        if code != 0:
            raise SystemExit(f"release failed: {out[-4000:]}")

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.bus.destroy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16,32", help="board counts, comma-separated")
    parser.add_argument("--lab-dir", help="use this running lab instead of bringing one up")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    lab_dir = args.lab_dir or f"/var/tmp/jetson-bench-{uuid.uuid4().hex[:6]}"
    if not args.lab_dir:
        code, _, out = run([BIN / "jetson-lab", "up", "--dir", lab_dir, "--boards", max(sizes)], 1800)
        if code != 0:
            raise SystemExit(f"jetson-lab up failed: {out[-3000:]}")
    bench = Bench(lab_dir)
    try:
        for code, _, out in (bench.salt_run("saltutil.sync_all"), bench.salt("site01", "saltutil.sync_all")):
            if code != 0:
                raise SystemExit(f"sync failed: {out[-2000:]}")
        boards = sorted(bench.config.boards, key=lambda b: int(b[3:]))
        bench.clone_images(boards[: max(sizes)])
        boot = bench.boot_alone(boards[0])
        print(f"lab board start-to-minion-ready, alone (median of 3): {boot:.1f} s\n")
        rows = []
        for size in sizes:
            chosen = boards[:size]
            wall, steps, boots = bench.switch(chosen)
            bench.release(chosen)
            rows.append((size, wall, steps, boots))
            print(f"{size:>3} board(s): switch wall time {wall:6.1f} s, "
                  f"overhead above one boot {wall - boot:5.1f} s", flush=True)
        single = next((wall for size, wall, _, _ in rows if size == 1), None)
        print("\nper step (seconds; mean / max over the boards of the run)")
        print("boards " + " ".join(f"{step:>13}" for step in STEPS) + "   wall  vs 1 board")
        for size, wall, steps, _ in rows:
            cells = " ".join(f"{statistics.mean(v or [0]):6.2f}/{max(v or [0]):6.2f}" for v in steps.values())
            ratio = f"{wall / single:5.2f}x" if single else "-"
            print(f"{size:>6} {cells} {wall:6.1f}  {ratio}")
    finally:
        bench.close()
        if not args.lab_dir:
            run([BIN / "jetson-lab", "down", "--dir", lab_dir, "--purge"], 600)
            shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    if "--vm" in sys.argv[1:]:  # the switch of VM boards booting over NFS: benchmarks/switch_vm.py
        import switch_vm

        switch_vm.main([arg for arg in sys.argv[1:] if arg != "--vm"])
    else:
        main()
