"""How long a swap and a park take against a plain copy, for rootfs trees of 10 MB, 1 GB, 10 GB.

Builds the trees in a scratch folder on /var/tmp (same file system as a real store would be),
made of many small files plus, for the larger ones, one sparse file, times the core's
swap (rename in + injection) and park (restore + rename out), and ``cp -a`` of the same tree,
and prints a table. Everything is removed at the end.

    .venv/bin/python benchmarks/swap.py [--sizes 10M,1G,10G] [--repeat 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import time
import uuid

from jetson_farm.inventory import Inventory
from jetson_farm.rootfs import RootfsSite
from jetson_farm.rootfs.fsutil import tree_bytes

SIZES = {"10M": 10 * 1024**2, "1G": 1024**3, "10G": 10 * 1024**3}
SMALL_FILE = 4096
SMALL_FILES = {"10M": 2560, "1G": 5000, "10G": 20000}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBench00 bench@host"


def pillar(scratch):
    return {
        "master": "127.0.0.1",
        "sites": {"site01": {"minion": "site01", "root": f"{scratch}/root"}},
        "boards": {"jtk1": {"site": "site01", "ip": "127.0.11.1", "nfsroot": f"{scratch}/NFSRoot1"}},
        "users": {"bench": {"ssh_keys": [SSH_KEY]}},
    }


def build_tree(path, size_label):
    """Small files with real data, then a sparse file for the rest of the nominal size."""
    count = SMALL_FILES[size_label]
    for folder in ("etc", "root", "usr/lib"):
        os.makedirs(os.path.join(path, folder), exist_ok=True)
    with open(os.path.join(path, "etc/hostname"), "w") as handle:
        handle.write("bench\n")
    block = os.urandom(SMALL_FILE)
    for i in range(count):
        sub = os.path.join(path, "usr/lib", f"d{i // 500:03d}")
        if i % 500 == 0:
            os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"f{i:06d}"), "wb") as handle:
            handle.write(block)
    rest = SIZES[size_label] - count * SMALL_FILE
    if rest > 0:
        with open(os.path.join(path, "usr/lib/big.img"), "wb") as handle:
            handle.truncate(rest)
            for offset in range(0, rest, 256 * 1024**2):  # some real blocks in the holes
                handle.seek(offset)
                handle.write(block)


def timed(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def not_exported(board):
    return False


def bench(scratch, size_label, repeat):
    site_pillar = pillar(scratch)
    inventory = Inventory.load(site_pillar)
    site = RootfsSite(inventory, inventory.site("site01"))
    site.layout.ensure()
    os.makedirs(site.layout.identity_dir("jtk1"), exist_ok=True)
    for name in ("minion.pem", "minion.pub"):
        with open(os.path.join(site.layout.identity_dir("jtk1"), name), "w") as handle:
            handle.write("key\n")
    image = f"bench/tree-{size_label.lower()}"
    slot = site.layout.image_path(image)
    build_tree(slot, size_label)
    allocated = tree_bytes(slot)
    swaps, parks, copies = [], [], []
    for i in range(repeat):
        os.sync()  # the swap's fsyncs must not pay for the writeback of the tree just built or copied
        swaps.append(timed(lambda i=i: site.swap("jtk1", image, switch_id=f"b{i}", is_exported=not_exported)))
        parks.append(timed(lambda: site.park("jtk1", is_exported=not_exported)))
        copy = os.path.join(scratch, f"copy-{i}")
        copies.append(timed(lambda copy=copy: subprocess.run(
            ["cp", "-a", "--", slot, copy], check=True, timeout=3600)))
        shutil.rmtree(copy)
    shutil.rmtree(slot)
    return {"size": size_label, "files": SMALL_FILES[size_label] + 2, "allocated": allocated,
            "apparent": SIZES[size_label],
            "swap": statistics.median(swaps), "park": statistics.median(parks),
            "cp": statistics.median(copies)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M,1G,10G")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scratch = f"/var/tmp/jetson-bench-{uuid.uuid4().hex[:8]}"
    os.makedirs(scratch)
    rows = []
    try:
        for size_label in args.sizes.split(","):
            rows.append(bench(scratch, size_label, args.repeat))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"median of {args.repeat} runs; swap = rename in + inject, park = restore + rename out")
    print(f"{'tree':>5} {'files':>6} {'apparent':>9} {'on disk':>9} {'swap (ms)':>10} {'park (ms)':>10} "
          f"{'cp -a (ms)':>11}")
    for row in rows:
        print(f"{row['size']:>5} {row['files']:>6} {row['apparent'] / 1024**2:>7.0f}MB "
              f"{row['allocated'] / 1024**2:>7.1f}MB "
              f"{row['swap'] * 1000:>10.1f} {row['park'] * 1000:>10.1f} {row['cp'] * 1000:>11.1f}")


if __name__ == "__main__":
    main()
