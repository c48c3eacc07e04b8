#!/usr/bin/env python3
"""Benchmark: a switch of VM boards that really boot Linux over NFS; the farm's share of it.

``benchmarks/switch.py --vm`` runs this. It brings up a lab with VM boards (``jetson-lab up
--boards 1 --vm-boards N``; ``--lab-dir`` uses a running one), builds one image per VM board
with the site's ``jetson_rootfs.build`` (cached per machine), then for each round switches the
VM boards to those images in one ``state.orch jetson.switch`` run and releases them. It prints,
per step, the farm's own time (the ``seconds`` of each ``jetson/switch/<board>/<step>`` event)
and the board's boot time, split at its milestones (from the serial console, timed by the lab:
power-on -> NFS root mounted -> systemd multi-user -> minion ready; and the minion's start event
on the master), then the farm's share of the whole switch: wall time minus the board's boot
(power-on to start event), over the wall time. Target: <= 5 %.

    .venv/bin/python benchmarks/switch.py --vm                  # 1 VM board, 2 rounds
    .venv/bin/python benchmarks/switch.py --vm --vm-boards 2 --rounds 1
"""

import argparse
import json
import pathlib
import statistics
import sys
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from switch import BIN, STEPS, Bench, close_lab, run  # noqa: E402

from jetson_lab import client, vm_board  # noqa: E402

MILESTONES = ("root_mounted", "multi_user", "minion_ready")


class VmBench(Bench):
    def build_images(self, boards):
        for board in boards:
            started = time.monotonic()
            files = json.dumps({"etc/jetson-bench": f"{board}\n"})
            code, data, out = self.salt("-t", "3600", "site01", "jetson_rootfs.build",
                                        f"image=alice/bench-{board}", f"files={files}", timeout=3700)
            if code != 0:
                raise SystemExit(f"building alice/bench-{board} failed: {out[-2000:]}")
            result = (data or {}).get("site01") or {}
            print(f"image alice/bench-{board}: {result.get('comment')} in {time.monotonic() - started:.1f} s "
                  f"({(result.get('size_bytes') or 0) / 2**20:.0f} MiB)", flush=True)

    def vm_switch(self, boards):
        """One switch run of ``boards``: wall, {step: [seconds]}, {board: boot facts}."""
        pillar = {"boards": {board: f"alice/bench-{board}" for board in boards}}
        boots_before = {b: client.power(str(self.config.socket_path), b, "status")["boots"] for b in boards}
        mark = len(self.events)
        start = time.monotonic()
        code, _, out = self.salt_run("state.orch", "jetson.switch", f"pillar={json.dumps(pillar)}")
        wall = time.monotonic() - start
        if code != 0:
            # Still worth its figures: on a busy machine a TCG board may outlast boot_timeout.
            print(f"the switch of {', '.join(boards)} FAILED (its figures follow): {out[-1500:]}", flush=True)
        steps = {step: [] for step in STEPS}
        exported, started_events = {}, {}
        for when, tag, data in self.events[mark:]:
            parts = tag.split("/")
            if len(parts) == 4 and parts[:2] == ["jetson", "switch"] and parts[3] in steps:
                steps[parts[3]].append(data.get("seconds", 0.0))
                if parts[3] == "export":
                    exported.setdefault(parts[2], when)  # the power-on follows at once (step 6)
            if len(parts) == 4 and parts[:2] == ["salt", "minion"] and parts[3] == "start":
                started_events.setdefault(parts[2], when)
        boots = {}
        for board in boards:
            # The boot this switch started (a rollback's would come after it).
            log = self.config.run_dir(board) / "console" / f"boot-{boots_before[board] + 1}.log"
            facts = console_milestones(log)
            if board in started_events and board in exported:
                facts["start_event"] = started_events[board] - exported[board]
            boots[board] = facts
        return wall, steps, boots


def console_milestones(path):
    """``{milestone: seconds after power-on}`` from one boot's console log (jetson_lab.vm_board)."""
    found = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        stamp, _, text = line.partition("] ")
        for name, pattern in vm_board.MILESTONES:
            if name not in found and pattern.search(text):
                found[name] = float(stamp.lstrip("[+ "))
    return found


def _report(rows):
    print("\nper step: the farm's own seconds (mean / max over boards and rounds)")
    for step in STEPS:
        values = [v for _, steps, _ in rows for v in steps[step]]
        note = "  (includes waiting for the board's boot)" if step == "verify" else ""
        print(f"  {step:9} {statistics.mean(values or [0]):7.2f} / {max(values or [0]):7.2f}{note}")
    print("\nthe board's boot (seconds after power-on; mean over boards and rounds)")
    facts = [boot for _, _, boots in rows for boot in boots.values()]
    for name in (*MILESTONES, "start_event"):
        values = [f[name] for f in facts if name in f]
        label = {"root_mounted": "NFS root mounted", "multi_user": "systemd multi-user",
                 "minion_ready": "minion ready (console)", "start_event": "minion start event"}[name]
        print(f"  {label:24} {statistics.mean(values) if values else float('nan'):7.2f}")
    print("\nwhole switch")
    shares = []
    for wall, _, boots in rows:
        if not all("start_event" in f for f in boots.values()):
            print(f"  wall {wall:7.2f} s; a board's minion start event never came: no share to tell")
            continue
        boot = max(f["start_event"] for f in boots.values())
        shares.append((wall - boot) / wall)
        print(f"  wall {wall:7.2f} s, board boot {boot:7.2f} s, farm {wall - boot:6.2f} s = "
              f"{100 * (wall - boot) / wall:5.1f} % (target <= 5 %)")
    if shares:
        print(f"  farm's share, mean over rounds: {100 * statistics.mean(shares):.1f} %")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vm-boards", type=int, default=1, help="VM boards switched in one run")
    parser.add_argument("--rounds", type=int, default=2, help="switch + release rounds")
    parser.add_argument("--lab-dir", help="use this running lab (with VM boards) instead")
    args = parser.parse_args(argv)
    lab_dir = args.lab_dir or f"/var/tmp/jetson-bench-vm-{uuid.uuid4().hex[:6]}"
    if not args.lab_dir:
        code, _, out = run([BIN / "jetson-lab", "up", "--dir", lab_dir, "--boards", 1,
                            "--vm-boards", args.vm_boards], 3600)
        if code != 0:
            raise SystemExit(f"jetson-lab up failed: {out[-3000:]}")
    bench = VmBench(lab_dir)
    try:
        boards = bench.config.vm_boards[: args.vm_boards]
        if not boards:
            raise SystemExit(f"the lab at {lab_dir} has no VM boards (jetson-lab up --vm-boards N)")
        bench.build_images(boards)
        rows = []
        for round_ in range(1, args.rounds + 1):
            wall, steps, boots = bench.vm_switch(boards)
            rows.append((wall, steps, boots))
            print(f"round {round_}: switch of {', '.join(boards)} in {wall:.1f} s", flush=True)
            bench.release(boards)
        _report(rows)
    finally:
        close_lab(bench, lab_dir, own=not args.lab_dir)


if __name__ == "__main__":
    main()
