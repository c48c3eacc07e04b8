"""How fast ``import_tar`` extracts a ~200 MB rootfs tarball, in MB/s and members/s.

Builds a tarball in a scratch folder on /var/tmp (many small files, a few large ones, symlinks,
hardlinks, device nodes and a FIFO, like a rootfs), then times the core's import of it. With
``--baseline REV`` it also times ``jetson_farm/rootfs/tarball.py`` as it was at that git
revision (loaded as a temporary module), alternating runs in turn, so "before" and "after" share the
page cache. Everything is removed at the end.

    .venv/bin/python benchmarks/import_tar.py [--mb 200] [--repeat 3] [--gzip] [--baseline REV]
"""

import argparse
import importlib.util
import io
import os
import resource
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
import uuid

from jetson_farm.inventory import Inventory
from jetson_farm.rootfs import RootfsSite, tarball

SMALL_FILE = 4096
SMALL_SHARE = 0.4  # of the size in small files, the rest in files of 8 MB
BIG_FILE = 8 * 1024**2
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add(tar, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, **fields):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, len(data), 1_600_000_000
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def build_tarball(path, total_mb, compress):
    """A rootfs-like tarball of about ``total_mb`` MB of file data; ``(members, data bytes)``."""
    total = total_mb * 1024**2
    small = int(total * SMALL_SHARE) // SMALL_FILE
    block, big = os.urandom(SMALL_FILE), os.urandom(BIG_FILE)
    count = data = 0
    with tarfile.open(path, "w:gz" if compress else "w") as tar:
        for name in ("./", "./etc", "./dev", "./run", "./usr", "./usr/lib", "./usr/share"):
            add(tar, name, tarfile.DIRTYPE, mode=0o755)
            count += 1
        add(tar, "./dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
        add(tar, "./dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0)
        add(tar, "./run/initctl", tarfile.FIFOTYPE, mode=0o600)
        count += 3
        for i in range(small):
            folder = f"./usr/share/d{i // 500:03d}"
            if i % 500 == 0:
                add(tar, folder, tarfile.DIRTYPE, mode=0o755)
                count += 1
            add(tar, f"{folder}/f{i:06d}", data=block)
            count, data = count + 1, data + SMALL_FILE
            if i % 10 == 0:
                add(tar, f"{folder}/l{i:06d}", tarfile.SYMTYPE, linkname=f"f{i:06d}")
                count += 1
        for i in range((total - small * SMALL_FILE) // BIG_FILE):
            add(tar, f"./usr/lib/big{i:03d}.so", data=big, mode=0o755)
            add(tar, f"./usr/lib/big{i:03d}.so.1", tarfile.LNKTYPE, linkname=f"./usr/lib/big{i:03d}.so")
            count, data = count + 2, data + BIG_FILE
    return count, data


def load_baseline(rev):
    """``tarball.py`` at git revision ``rev``, as a module of its own."""
    source = subprocess.run(["git", "-C", REPO, "show", f"{rev}:jetson_farm/rootfs/tarball.py"],
                            capture_output=True, text=True, check=True, timeout=30).stdout
    with tempfile.NamedTemporaryFile("w", suffix="_tarball_baseline.py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("tarball_baseline", handle.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.unlink(handle.name)
    return module


def make_site(scratch):
    inventory = Inventory.load({
        "master": "127.0.0.1",
        "sites": {"site01": {"minion": "site01", "root": f"{scratch}/root"}},
        "boards": {"jtk1": {"site": "site01", "ip": "127.0.11.1", "nfsroot": f"{scratch}/NFSRoot1"}},
        "users": {"bench": {}},
    })
    site = RootfsSite(inventory, inventory.site("site01"))
    site.layout.ensure()
    return site


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_import(site, module, source):
    """``(wall, cpu)`` seconds of one import; the CPU time (user + system) varies less than the
    wall time on a machine others are using."""
    name = f"img-{uuid.uuid4().hex[:8]}"
    start, start_cpu = time.perf_counter(), cpu_seconds()
    module.import_tar(site, "bench", name, source)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    shutil.rmtree(site.layout.image_path(f"bench/{name}"))
    return elapsed, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="file data in the tarball, MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="a .tar.gz instead of a .tar")
    parser.add_argument("--baseline", help="also time tarball.py at this git revision")
    args = parser.parse_args()
    scratch = f"/var/tmp/jetson-bench-import-{uuid.uuid4().hex[:8]}"
    os.makedirs(scratch)
    try:
        source = os.path.join(scratch, "rootfs.tar.gz" if args.gzip else "rootfs.tar")
        members, data = build_tarball(source, args.mb, args.gzip)
        data_mb = data / 1024**2
        site = make_site(scratch)
        variants = {"now": tarball}
        if args.baseline:
            variants[f"at {args.baseline}"] = load_baseline(args.baseline)
        times = {label: [] for label in variants}
        order = list(variants.items())
        for _ in range(args.repeat):
            for label, module in order:
                times[label].append(time_import(site, module, source))
            order.reverse()  # neither variant always runs right after the other's clean-up
        size_mb = os.path.getsize(source) / 1024**2
        print(f"import_tar of {os.path.basename(source)}: {size_mb:.0f} MB on disk, {data_mb:.0f} MB "
              f"of file data, {members} members, median of {args.repeat}")
        for label, values in times.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            print(f"  {label:>16}: {wall:6.2f} s  {data_mb / wall:7.1f} MB/s  "
                  f"{members / wall:8.0f} members/s  (best {data_mb / min(v[0] for v in values):.1f}"
                  f" MB/s; CPU {cpu:.2f} s)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
