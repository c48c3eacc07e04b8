"""An image recipe: what ``jetson_rootfs.build`` makes from scratch, and the key of its cache.

A recipe is a dict (from pillar ``jetson_recipes:<name>``, or given on the command line)::

    image: admin/nfs-base          # the store image it becomes (user/name); required
    release: bookworm              # Debian release (default bookworm)
    arch: amd64                    # default: the site server's own (dpkg --print-architecture)
    mirror: http://deb.debian.org/debian   # default: the Debian mirror in the site's apt sources
    packages: [vim-tiny]           # added to the base set
    files: {etc/motd: "hello\\n"}  # extra files (relative paths, text), e.g. a marker file
    salt_version: "3008.3"         # the salt-minion installed in /opt/salt (a virtualenv)

Every problem is named at once (:class:`RecipeError`). The cache key is a hash of the whole
recipe (mirror excluded: any mirror serves the same release), of the files the build puts into
the image and of :data:`BUILD_FORMAT`, so a change to any of them rebuilds.
"""

import hashlib
import json
import pathlib
import re
from dataclasses import asdict, dataclass

from jetson_farm.errors import InvalidName, JetsonError
from jetson_farm.names import parse_image
from jetson_farm.safepath import split_relpath

DEFAULT_RELEASE = "bookworm"
DEFAULT_SALT = "3008.3"
KERNELS = {"amd64": "linux-image-cloud-amd64", "arm64": "linux-image-arm64"}
# Debian's names for the QEMU user emulators that run a foreign arch's binaries in the chroot.
QEMU_USER = {"arm64": "qemu-aarch64-static", "amd64": "qemu-x86_64-static"}
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "udev", "kmod", "initramfs-tools", "iproute2", "iputils-ping",
    "procps", "netbase", "openssh-server", "python3", "python3-venv", "less", "libnss-myhostname",
)
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}$")
RELEASE_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
VERSION_RE = re.compile(r"^[0-9][0-9a-z.]{0,20}$")
MIRROR_RE = re.compile(r"^https?://[A-Za-z0-9._:/~+-]+$")
MAX_FILE_BYTES = 64 * 1024
KEYS = ("image", "release", "arch", "mirror", "packages", "files", "salt_version")
BOOT_FILES = pathlib.Path(__file__).resolve().parent / "nfsboot"
# Bump when jetson_farm/rootfs/build.py changes what it makes (the boot files and imagefiles.py
# are hashed into the key themselves), so every machine's cache builds again.
BUILD_FORMAT = 1


class RecipeError(JetsonError):
    """A recipe that cannot be built; the message names every problem."""


@dataclass(frozen=True)
class Recipe:
    image: str
    release: str
    arch: str
    mirror: str | None
    packages: tuple
    files: tuple  # ((relpath, text), ...), sorted
    salt_version: str

    @property
    def kernel(self):
        return KERNELS[self.arch]

    def all_packages(self):
        return sorted({*BASE_PACKAGES, self.kernel, *self.packages})

    def cache_key(self, with_files=True):
        """Hex digest naming the build: the recipe (not the mirror, not the image name, so two
        names of one recipe share a build) and the boot files. ``with_files=False``: the key of
        the base tree that recipes differing only in their ``files`` share."""
        skip = {"mirror", "image"} | (set() if with_files else {"files"})
        data = {k: v for k, v in asdict(self).items() if k not in skip}
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode())
        for path in sorted(BOOT_FILES.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        digest.update(pathlib.Path(__file__).with_name("imagefiles.py").read_bytes())
        digest.update(f"format {BUILD_FORMAT}".encode())
        return digest.hexdigest()[:16]

    def to_dict(self):
        data = asdict(self)
        data["packages"] = list(self.packages)
        data["files"] = dict(self.files)
        return data


def parse(data, default_arch):
    """The :class:`Recipe` of ``data`` (a dict); RecipeError naming every problem."""
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe must be a mapping with the keys {', '.join(KEYS)}, "
                          f"not {type(data).__name__}")
    problems = [f"unknown key {key!r} (known: {', '.join(KEYS)})" for key in data if key not in KEYS]
    image = data.get("image")
    try:
        parse_image(image if isinstance(image, str) else "")
    except InvalidName as err:
        problems.append(f"image: {err}")
    release = data.get("release", DEFAULT_RELEASE)
    if not isinstance(release, str) or not RELEASE_RE.match(release):
        problems.append(f"release {release!r} is not a Debian release name (e.g. bookworm)")
    arch = data.get("arch") or default_arch
    if arch not in KERNELS:
        problems.append(f"arch {arch!r} is not supported (one of {', '.join(KERNELS)})")
    mirror = data.get("mirror")
    if mirror is not None and (not isinstance(mirror, str) or not MIRROR_RE.match(mirror)):
        problems.append(f"mirror {mirror!r} is not an http(s) URL")
    packages = data.get("packages") or []
    if not isinstance(packages, list):
        problems.append("packages must be a list of Debian package names")
        packages = []
    problems += [f"package {p!r} is not a Debian package name" for p in packages
                 if not isinstance(p, str) or not PACKAGE_RE.match(p)]
    files = data.get("files") or {}
    if not isinstance(files, dict):
        problems.append("files must be a mapping {relative path: text}")
        files = {}
    for relpath, text in files.items():
        try:
            split_relpath(relpath)
        except JetsonError as err:
            problems.append(f"files: {relpath!r}: {err}")
        if not isinstance(text, str) or len(text.encode()) > MAX_FILE_BYTES:
            problems.append(f"files: {relpath!r} must be text of at most {MAX_FILE_BYTES} bytes")
    salt_version = str(data.get("salt_version", DEFAULT_SALT))
    if not VERSION_RE.match(salt_version):
        problems.append(f"salt_version {salt_version!r} is not a version (e.g. 3008.3)")
    if problems:
        raise RecipeError("invalid image recipe: " + "; ".join(problems))
    return Recipe(image=image, release=release, arch=arch, mirror=mirror,
                  packages=tuple(sorted(set(packages))), files=tuple(sorted(files.items())),
                  salt_version=salt_version)
