#!/usr/bin/env python3
"""Benchmark: making a user's working copy of a template, reflink vs full copy.

For each file system (loop-mounted btrfs, XFS and ext4, made fresh in a scratch folder; needs
root), it puts a template of ``--size-mb`` MB in a site store (one large file and ``--files``
small ones, like a rootfs) and times ``jetson_farm.rootfs.templates.ensure_copy`` for one user:
the FICLONE probe picks ``cp -a --reflink=always`` on btrfs and XFS and a full ``cp -a`` on
ext4. It prints one table: the method, the wall time, the space the copy took from the file
system, and the ratio to the ext4 full copy.

    sudo .venv/bin/python benchmarks/clone.py                 # 512 MB, 2000 small files
    sudo .venv/bin/python benchmarks/clone.py --size-mb 128   # quicker
"""

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jetson_farm.rootfs import templates  # noqa: E402
from tests.conftest import make_pillar  # noqa: E402
from tests.loopfs import fill, free_bytes, loop_filesystem, missing  # noqa: E402
from tests.unit.test_rootfs_helpers import add_image, make_site  # noqa: E402

KINDS = ("btrfs", "xfs", "ext4")


def one(kind, size_mb, files):
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
        os.sync()
        free = free_bytes(mount)
        clock = time.monotonic()
        made = templates.ensure_copy(site, "admin/l4t-base", "alice")
        seconds = time.monotonic() - clock
        used = free - free_bytes(mount)
        return {"kind": kind, "method": made["method"], "seconds": seconds, "used_mb": used / 2**20,
                "bytes": made["bytes"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512, help="the template's size")
    parser.add_argument("--files", type=int, default=2000, help="small files besides the large one")
    args = parser.parse_args()
    rows = []
    for kind in KINDS:
        why = missing(kind)
        if why:
            print(f"{kind}: skipped ({why})")
            continue
        rows.append(one(kind, args.size_mb, args.files))
    full = next((r["seconds"] for r in rows if r["method"] == "copy"), None)
    print(f"working copy of a {args.size_mb} MB template ({args.files} small files + one large):")
    print(f"{'fs':6} {'method':8} {'seconds':>8} {'space taken MB':>15} {'vs full copy':>13}")
    for r in rows:
        ratio = f"{r['seconds'] / full:.3f}x" if full else "-"
        print(f"{r['kind']:6} {r['method']:8} {r['seconds']:8.2f} {r['used_mb']:15.1f} {ratio:>13}")


if __name__ == "__main__":
    main()
