#!/usr/bin/env python3
"""Benchmark: making a user's working copy of a template, reflink vs full copy.

For each file system (loop-mounted btrfs, XFS and ext4, made fresh in a scratch folder; needs
root), it puts a template of ``--size-mb`` MB in a site store (one large file and ``--files``
small ones, like a rootfs) and times ``jetson_farm.rootfs.templates.ensure_copy`` for one user:
the FICLONE probe picks ``cp -a --reflink=always`` on btrfs and XFS and a full ``cp -a`` on
ext4. Each copy is made ``--runs`` times (removed in between); it prints one table with the
medians: the method, the wall time of ``ensure_copy`` (the quota check and the walks included),
the same until the copy is on disk (``sync``: a full copy writes every byte, a reflink nothing),
the space the copy took from the file system, and the on-disk time's ratio to the ext4 copy.

    sudo .venv/bin/python benchmarks/clone.py                 # 512 MB, 2000 small files
    sudo .venv/bin/python benchmarks/clone.py --size-mb 128   # quicker
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jetson_farm.rootfs import templates  # noqa: E402
from tests.conftest import make_pillar  # noqa: E402
from tests.loopfs import fill, free_bytes, loop_filesystem, missing  # noqa: E402
from tests.unit.test_rootfs_helpers import add_image, make_site  # noqa: E402

KINDS = ("btrfs", "xfs", "ext4")


def one(kind, size_mb, files, runs):
    fs_mb = max(320, 3 * size_mb + 64)
    with loop_filesystem(kind, fs_mb) as mount:
        pillar = make_pillar(os.path.join(mount, "farm"))
        pillar["users"]["alice"]["quota_gb"] = 0  # measure the copy, not the quota
        site = make_site(pillar)
        site.layout.ensure()
        template = add_image(site, "admin/l4t-base")
        small = max(files, 1)
        small_mb = size_mb // 8
        fill(os.path.join(template, "usr/lib/big.bin"), size_mb - small_mb)
        chunk = b"x" * max(small_mb * 1024 * 1024 // small, 1)
        for i in range(files):
            folder = os.path.join(template, "usr/share", f"d{i // 100}")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"f{i}"), "wb") as handle:
                handle.write(chunk)
        walls, synced, used = [], [], []
        for _ in range(runs):
            free = free_bytes(mount)
            clock = time.monotonic()
            made = templates.ensure_copy(site, "admin/l4t-base", "alice")
            walls.append(time.monotonic() - clock)
            subprocess.run(["sync", "-f", mount], check=True, timeout=600)  # syncfs: this file system only
            synced.append(time.monotonic() - clock)
            used.append(free - free_bytes(mount))
            site.remove("alice/l4t-base")
        return {"kind": kind, "method": made["method"], "seconds": statistics.median(walls),
                "synced": statistics.median(synced), "used_mb": statistics.median(used) / 2**20}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512, help="the template's size")
    parser.add_argument("--files", type=int, default=2000, help="small files besides the large one")
    parser.add_argument("--runs", type=int, default=3, help="copies per file system (medians)")
    args = parser.parse_args()
    rows = []
    for kind in KINDS:
        why = missing(kind)
        if why:
            print(f"{kind}: skipped ({why})")
            continue
        rows.append(one(kind, args.size_mb, args.files, args.runs))
    full = next((r["synced"] for r in rows if r["method"] == "copy"), None)
    print(f"working copy of a {args.size_mb} MB template ({args.files} small files + one large), "
          f"median of {args.runs}:")
    print(f"{'fs':6} {'method':8} {'seconds':>8} {'on disk s':>10} {'space taken MB':>15} "
          f"{'vs full copy':>13}")
    for r in rows:
        ratio = f"{r['synced'] / full:.3f}x" if full else "-"
        print(f"{r['kind']:6} {r['method']:8} {r['seconds']:8.2f} {r['synced']:10.2f} {r['used_mb']:15.1f} "
              f"{ratio:>13}")


if __name__ == "__main__":
    main()
