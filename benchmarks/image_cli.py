"""What ``jetson-image import`` costs on top of the store's own ``import_tar``: the command's start,
the quota check (the user's usage walk) and the progress watch, on a ~200 MB rootfs tarball.

Runs the command as root for a user (``--user``, the admin path: the same code as a user's sudo
run, without making an account), against a scratch store on /var/tmp; removed at the end.

    .venv/bin/python benchmarks/image_cli.py [--mb 200] [--gzip] [--repeat 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_tar import build_tarball  # the sibling benchmark's rootfs-like tarball

from jetson_farm.inventory import Inventory
from jetson_farm.rootfs import RootfsSite

COMMAND = os.path.join(os.path.dirname(sys.executable), "jetson-image")


def pillar(root):
    return {"sites": {"site01": {"minion": "site01", "root": root, "nfs": {"network": "127.0.0.0/8"}}},
            "users": {"alice": {"quota_gb": 50}}}


def timed(fun):
    start = time.perf_counter()
    fun()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="jetson-image-bench-", dir="/var/tmp")
    try:
        source = os.path.join(scratch, "rootfs.tar.gz" if args.gzip else "rootfs.tar")
        members, data = build_tarball(source, args.mb, args.gzip)
        config = os.path.join(scratch, "site.yaml")
        with open(config, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"jetson": pillar(os.path.join(scratch, "root"))}, handle)
        inventory = Inventory.load(pillar(os.path.join(scratch, "root")))
        site = RootfsSite(inventory, inventory.site("site01"))
        base = [COMMAND, "--config", config, "--user", "alice"]
        results = {"import_tar (in process)": [], "jetson-image import": [], "jetson-image list": []}
        for i in range(args.repeat):
            results["import_tar (in process)"].append(timed(lambda i=i: site.import_tar("alice", f"core{i}",
                                                                                          source)))
            results["jetson-image import"].append(timed(lambda i=i: subprocess.run(
                [*base, "import", f"cli{i}", source], check=True, capture_output=True, timeout=3600)))
            results["jetson-image list"].append(timed(lambda: subprocess.run(
                [*base, "list"], check=True, capture_output=True, timeout=600)))
        print(f"tarball: {os.path.getsize(source) / 1024**2:.1f} MB on disk, {members} members, "
              f"{data / 1024**2:.0f} MB of file data{' (gzip)' if args.gzip else ''}")
        for name, runs in results.items():
            best, median = min(runs), statistics.median(runs)
            rate = f", {data / 1024**2 / best:.0f} MB/s" if "import" in name else ""
            print(f"{name:<26} best {best:6.2f} s  median {median:6.2f} s{rate}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
