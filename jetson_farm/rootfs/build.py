"""Build an NFS-bootable image from scratch and register it in the store.

The steps (each reported through ``progress(stage, message)``):

1. ``debootstrap --variant=minbase`` of the recipe's release and arch, from the Debian mirror
   of the site's apt sources, with the base set, the kernel and the recipe's packages. A
   foreign arch (arm64 for Jetson on an amd64 server) runs its second stage through
   ``qemu-user-static`` and binfmt.
2. The farm's files (:mod:`jetson_farm.rootfs.imagefiles`): fstab for an NFS root, the
   ``boot=nfs4`` initramfs script and hook, key-only sshd, volatile journal, the minion unit.
3. A salt-minion in a virtualenv ``/opt/salt``, installed offline from wheels built on the
   site server (pip inside the chroot may have no route to the package index), and the
   farm's grain.
4. ``update-initramfs`` with the NFSv4 boot script, then the apt caches emptied.

The tree is cached in ``<cache>/<recipe key>/rootfs`` (outside any repository, keyed by
:meth:`Recipe.cache_key`), so a machine builds each recipe once; registering copies it into the
store (a reflink where the file system can) through a staging folder, as an import does.
"""

import fcntl
import glob
import json
import logging
import os
import shutil
import sys
import time

from jetson_farm.errors import Refused
from jetson_farm.rootfs import chroot, fsutil, imagefiles
from jetson_farm.rootfs.chroot import BuildError
from jetson_farm.rootfs.clone import copy_into_store

log = logging.getLogger(__name__)

DEFAULT_CACHE = "/var/cache/jetson-farm"
DEBOOTSTRAP_TIMEOUT = 1800
CHROOT_TIMEOUT = 900
PIP_TIMEOUT = 900
BUILDS_FILE = "builds.json"  # <root>/state/builds.json: {image: recipe key} of built images


def _say(progress, stage, message):
    log.info("image build: %s: %s", stage, message)
    if progress is not None:
        progress(stage, message)


def build(site, recipe, cache_dir=DEFAULT_CACHE, grain_files=(), marker_module=None,
          constraints=None, force=False, progress=None):
    """Build ``recipe`` (or find it cached) and register it as ``recipe.image`` in the store.

    Returns ``{image, key, cached, changed, build_seconds, size_bytes, path, comment}``.
    """
    key = recipe.cache_key()
    entry = os.path.join(cache_dir, "images", key)
    builds_path = os.path.join(site.layout.state_dir, BUILDS_FILE)
    known = fsutil.read_json(builds_path, default={}) or {}
    slot = site.layout.image_path(recipe.image)
    exists = fsutil.exists(slot) or recipe.image in site.placements()
    if exists and known.get(recipe.image) == key and not force:
        _say(progress, "done", f"{recipe.image} is already built from this recipe ({key})")
        return {"image": recipe.image, "key": key, "cached": True, "changed": False,
                "build_seconds": 0.0, "size_bytes": None, "path": slot,
                "comment": f"image {recipe.image} is up to date (recipe {key})"}
    if exists:
        raise Refused(f"image {recipe.image} already exists and was not built from this recipe "
                      f"({key}): remove it first or pick another name")
    os.makedirs(os.path.join(cache_dir, "images"), mode=0o755, exist_ok=True)
    started = time.monotonic()
    cached = _cached_tree(entry, recipe, cache_dir, grain_files, marker_module, constraints, force,
                          progress)
    build_seconds = 0.0 if cached else round(time.monotonic() - started, 1)
    _say(progress, "register", f"copying the tree into the store as {recipe.image}")
    copy_into_store(site, os.path.join(entry, "rootfs"), recipe.image)
    site.layout.ensure()
    with site.store_lock():
        known = fsutil.read_json(builds_path, default={}) or {}
        known[recipe.image] = key
        fsutil.write_json(builds_path, known)
    meta = fsutil.read_json(os.path.join(entry, "build.json"), default={}) or {}
    _say(progress, "done", f"{recipe.image} registered ({'cached' if cached else 'built'}, "
                           f"{meta.get('size_bytes', 0) // 2**20} MiB)")
    return {"image": recipe.image, "key": key, "cached": cached, "changed": True,
            "build_seconds": build_seconds or meta.get("build_seconds", 0.0),
            "size_bytes": meta.get("size_bytes"), "path": slot,
            "comment": f"image {recipe.image} {'registered from the cache' if cached else 'built'} "
                       f"(recipe {key})"}


def _cached_tree(entry, recipe, cache_dir, grain_files, marker_module, constraints, force, progress):
    """The tree of ``recipe`` in ``entry``, made unless cached; True when it was cached.

    Two levels: the base tree (everything but the recipe's ``files``, shared by recipes that
    differ only there) and the recipe's own, a copy of the base with its files written.
    """
    base = os.path.join(cache_dir, "images", f"{recipe.cache_key(with_files=False)}-base")

    def make_base(work):
        wheels = build_wheels(recipe, cache_dir, constraints, progress)
        build_tree(os.path.join(work, "rootfs"), recipe, wheels, grain_files, marker_module,
                   cache_dir, progress)

    def make_entry(work):
        _cached(base, recipe, force, progress, make_base)
        _say(progress, "files", f"the recipe's {len(recipe.files)} file(s) over the base tree")
        chroot.run(["cp", "-a", "--reflink=auto", "-T", "--", os.path.join(base, "rootfs"),
                    os.path.join(work, "rootfs")], CHROOT_TIMEOUT, "copying the base tree")
        imagefiles.add_files(os.path.join(work, "rootfs"), recipe.files)

    return _cached(entry, recipe, force, progress, make_entry)


def _cached(entry, recipe, force, progress, make):
    """Run ``make(work)`` into ``entry`` unless it is there; True when it was. One per key at a
    time (a lock file); a failed make leaves nothing."""
    with open(entry + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(entry, "build.json")) and not force:
            _say(progress, "cache", f"found {entry}")
            return True
        work = f"{entry}.building"
        chroot.unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(entry, ignore_errors=True)
        os.makedirs(work)
        started = time.monotonic()
        try:
            make(work)
        except BaseException:
            chroot.unmount_under(work)
            shutil.rmtree(work, ignore_errors=True)
            raise
        size = fsutil.tree_bytes(os.path.join(work, "rootfs"))
        fsutil.write_json(os.path.join(work, "build.json"), {
            "recipe": recipe.to_dict(), "key": os.path.basename(entry), "size_bytes": size,
            "build_seconds": round(time.monotonic() - started, 1), "built": fsutil.now()})
        os.rename(work, entry)
        return False


def build_wheels(recipe, cache_dir, constraints, progress):
    """The folder of wheels for ``salt==<version>`` and its dependencies (built once)."""
    arch = recipe.arch
    folder = os.path.join(cache_dir, "wheels",
                          f"salt-{recipe.salt_version}-py{sys.version_info[0]}{sys.version_info[1]}-{arch}")
    done = os.path.join(folder, ".complete")
    if os.path.isfile(done):
        return folder
    _say(progress, "wheels", f"building wheels of salt {recipe.salt_version} in {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    pin = f"salt=={recipe.salt_version}"
    if arch == chroot.host_arch():
        extra = ["-c", constraints] if constraints and os.path.isfile(constraints) else []
        chroot.run([*pip, "wheel", *extra, pin, "-w", folder], PIP_TIMEOUT, f"pip wheel {pin}")
    else:
        # Salt itself is pure Python; its compiled dependencies come as the target's binaries.
        platform = {"arm64": "manylinux2014_aarch64"}.get(arch, f"manylinux2014_{arch}")
        chroot.run([*pip, "wheel", "--no-deps", pin, "-w", folder], PIP_TIMEOUT, f"pip wheel {pin}")
        chroot.run([*pip, "download", "--only-binary=:all:", "--platform", platform, "--python-version",
                    f"{sys.version_info[0]}.{sys.version_info[1]}", "-d", folder, pin],
                   PIP_TIMEOUT, f"pip download {pin} for {arch}")
    open(done, "w").close()
    return folder


def build_tree(root, recipe, wheels, grain_files, marker_module, cache_dir, progress):
    """Make the image's base tree at ``root`` (a path that does not exist yet): all but the
    recipe's own files."""
    mirror = recipe.mirror or chroot.debian_mirror(recipe.release)
    foreign = recipe.arch != chroot.host_arch()
    _say(progress, "debootstrap", f"{recipe.release} {recipe.arch} from {mirror}"
                                  f"{' (foreign: qemu-user-static)' if foreign else ''}")
    debs = os.path.join(cache_dir, "debs", f"{recipe.release}-{recipe.arch}")
    os.makedirs(debs, exist_ok=True)
    args = ["debootstrap", "--variant=minbase", f"--arch={recipe.arch}", "--components=main",
            f"--cache-dir={debs}",
            "--include=" + ",".join(recipe.all_packages())]
    chroot.run([*args, *(["--foreign"] if foreign else []), recipe.release, root, mirror],
               DEBOOTSTRAP_TIMEOUT, f"debootstrap {recipe.release} {recipe.arch}")
    if foreign:
        _second_stage(root, recipe)
    _say(progress, "configure", "fstab, boot=nfs4 initramfs script, sshd, journald, minion unit")
    imagefiles.configure(root)
    with chroot.mounted(root):
        _say(progress, "salt", f"salt-minion {recipe.salt_version} into /opt/salt (offline wheels)")
        _install_salt(root, recipe, wheels, grain_files, marker_module)
        _say(progress, "initramfs", "update-initramfs with the NFSv4 boot script")
        chroot.in_chroot(root, ["update-initramfs", "-u", "-k", "all"], CHROOT_TIMEOUT,
                         "update-initramfs in the image")
        chroot.in_chroot(root, ["apt-get", "clean"], CHROOT_TIMEOUT, "apt-get clean in the image")
    for path in glob.glob(os.path.join(root, "var/lib/apt/lists/*_Packages")):
        os.unlink(path)
    kernels = sorted(glob.glob(os.path.join(root, "boot/vmlinuz-*")))
    if not kernels or not glob.glob(os.path.join(root, "boot/initrd.img-*")):
        raise BuildError(f"the image has no kernel or initramfs in {root}/boot")


def _second_stage(root, recipe):
    from jetson_farm.rootfs.recipe import QEMU_USER

    emulator = shutil.which(QEMU_USER[recipe.arch])
    if emulator is None or not os.path.isdir("/proc/sys/fs/binfmt_misc"):
        raise BuildError(f"building {recipe.arch} here needs {QEMU_USER[recipe.arch]} and binfmt "
                         "(apt-get install qemu-user-static binfmt-support)")
    shutil.copy2(emulator, os.path.join(root, "usr/bin", os.path.basename(emulator)))
    chroot.in_chroot(root, ["/debootstrap/debootstrap", "--second-stage"], DEBOOTSTRAP_TIMEOUT,
                     f"debootstrap --second-stage ({recipe.arch})")


def _install_salt(root, recipe, wheels, grain_files, marker_module):
    inside = "/tmp/jetson-farm-wheels"
    shutil.copytree(wheels, os.path.join(root, inside.lstrip("/")), dirs_exist_ok=True)
    try:
        chroot.in_chroot(root, ["python3", "-m", "venv", "/opt/salt"], CHROOT_TIMEOUT,
                         "python3 -m venv /opt/salt in the image")
        chroot.in_chroot(root, ["/opt/salt/bin/pip", "install", "--disable-pip-version-check", "-q",
                                "--no-index", "--find-links", inside, f"salt=={recipe.salt_version}"],
                         PIP_TIMEOUT, f"pip install salt=={recipe.salt_version} in the image")
    finally:
        shutil.rmtree(os.path.join(root, inside.lstrip("/")), ignore_errors=True)
    site_packages = glob.glob(os.path.join(root, "opt/salt/lib/python3*/site-packages"))
    if not site_packages:
        raise BuildError("the image's /opt/salt has no site-packages after pip install")
    imagefiles.install_grain(root, os.path.relpath(site_packages[0], root), grain_files,
                             marker_module or _marker_module())


def _marker_module():
    from jetson_farm import marker

    return marker.__file__


def cached_builds(cache_dir=DEFAULT_CACHE):
    """``[{key, recipe, size_bytes, build_seconds, built}]`` of the trees in the cache."""
    found = []
    for meta in sorted(glob.glob(os.path.join(cache_dir, "images", "*", "build.json"))):
        try:
            with open(meta, encoding="utf-8") as handle:
                found.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return found
