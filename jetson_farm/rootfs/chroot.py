"""The host side of an image build: the Debian mirror, the host's arch, commands, a chroot.

Every command is an argument list with a timeout; a failure raises :class:`BuildError` with the
command's last output lines, so the message reads well on its own.
"""

import contextlib
import glob
import logging
import os
import re
import subprocess

from jetson_farm.errors import JetsonError

log = logging.getLogger(__name__)

APT_SOURCES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Builds are background work on a shared site server.
NICE = ["nice", "-n", "10"]
CHROOT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
              "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


class BuildError(JetsonError):
    """A step of an image build failed; nothing was registered."""


def run(args, timeout, what, env=None):
    """Run ``args``; its output, or BuildError naming ``what`` with the output's tail."""
    try:
        proc = subprocess.run([*NICE, *args], capture_output=True, text=True, errors="replace",
                              timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} did not finish within {timeout}s") from None
    except FileNotFoundError as err:
        raise BuildError(f"{what}: {err.filename} is not installed") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise BuildError(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def host_arch():
    """The Debian architecture of this machine (``amd64``, ``arm64``...)."""
    return run(["dpkg", "--print-architecture"], 10, "dpkg --print-architecture").strip()


def _one_line_entries(text):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 3 and words[0] == "deb":
            words = [w for w in words[1:] if not w.startswith("[")]
            if len(words) >= 2:
                yield words[0], words[1:2]


def _deb822_entries(text):
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith((" ", "#")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            for uri in fields.get("uris", []):
                yield uri, fields.get("suites", [])


def debian_mirror(release, sources=APT_SOURCES):
    """The mirror of this machine's apt sources that serves ``release`` (else the first Debian
    one, else deb.debian.org)."""
    found = []
    for source in sources:
        paths = sorted(glob.glob(os.path.join(source, "*"))) if os.path.isdir(source) else [source]
        for path in paths:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                continue
            if path.endswith(".sources"):
                found += list(_deb822_entries(text))
            elif path.endswith(".list"):
                found += list(_one_line_entries(text))
    debian = [(uri, suites) for uri, suites in found
              if "debian" in uri and "security" not in uri and uri.startswith(("http://", "https://"))]
    for uri, suites in debian:
        if release in suites:
            return uri.rstrip("/")
    return debian[0][0].rstrip("/") if debian else DEFAULT_MIRROR


@contextlib.contextmanager
def mounted(root):
    """/proc, /sys and /dev of the host inside ``root`` while the block runs (kernel and
    initramfs scripts need them); always unmounted, innermost first."""
    done = []
    try:
        for kind, target in (("proc", "proc"), ("sysfs", "sys"), ("bind", "dev"), ("bind", "dev/pts")):
            path = os.path.join(root, target)
            os.makedirs(path, exist_ok=True)
            args = ["mount", "--bind", f"/{target}", path] if kind == "bind" else \
                ["mount", "-t", kind, kind, path]
            run(args, 30, f"mount {target} in the chroot")
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            proc = subprocess.run(["umount", "--lazy", path], capture_output=True, text=True,
                                  timeout=30, check=False)
            if proc.returncode != 0:
                log.warning("could not unmount %s: %s", path, proc.stderr.strip())


def unmount_under(path):
    """Unmount whatever is mounted at or below ``path`` (a failed debootstrap may leave its
    /proc), so that removing the tree can never reach the host's /proc or /dev."""
    prefix = os.path.realpath(path) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        points = [line.split()[1].encode().decode("unicode_escape") for line in handle]
    for point in sorted((p for p in points if (p + "/").startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, timeout=30, check=False)


def in_chroot(root, args, timeout, what):
    """Run ``args`` inside the chroot ``root`` with a clean, non-interactive environment."""
    return run(["chroot", root, *args], timeout, what, env=CHROOT_ENV)
