"""The files a built image gets besides its packages: an NFS-root boot, key-only sshd, a
salt-minion that starts at boot, and a volatile journal (docs/images.md says why each)."""

import os
import stat

from jetson_farm.rootfs.recipe import BOOT_FILES
from jetson_farm.safepath import SafeRoot

FSTAB = """\
# The root file system is mounted over NFSv4 by the initramfs (kernel command line boot=nfs4
# nfsroot=<server>:<path>); it is not listed here, so systemd never remounts it.
proc  /proc  proc   defaults                  0 0
tmpfs /tmp   tmpfs  defaults,nosuid,nodev     0 0
"""
HOSTS = "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n"
# The board's name (from the kernel's ip=) resolves to its own addresses without DNS: the
# minion's hostname and fqdn grains looked it up, and on a board network with no reachable
# name server each lookup waited out the resolver's timeouts (40 s of a TCG board's start).
NSS_HOSTS = "hosts:          files myhostname dns\n"
# A persistent journal on an NFS root grows by megabytes per boot and costs a round trip per write.
JOURNALD = "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n"
SSHD = """\
# jetson-farm: key login only; the board user's keys are injected at each switch.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
"""
# An image carries no host keys (each board's come from its identity folder at the swap); a
# board booting without them makes its own before sshd starts.
HOSTKEYS_UNIT = """\
[Unit]
Description=SSH host keys, if the farm injected none
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
"""
MINION_UNIT = """\
[Unit]
Description=Salt minion (jetson-farm)
After=network.target

[Service]
Type=simple
# Info on the console too: "Minion is ready to receive requests!" there times a board's boot.
ExecStart=/opt/salt/bin/salt-minion -c /etc/salt --log-level=info
StandardOutput=journal+console
StandardError=journal+console
KillMode=process
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""
# Master and id come from the swap (etc/salt/minion.d/jetson.conf); these make a board's
# minion come back fast and never wait on DNS, which a farm's board network may not have.
MINION_CONF = """\
# jetson-farm image defaults; the board's master and id are in jetson.conf (written at the swap)
grains_dirs:
  - /usr/lib/jetson-farm/grains
acceptance_wait_time: 1
random_reauth_delay: 0
recon_default: 200
enable_fqdns_grains: false
enable_gpu_grains: false
# The start computes the grains twice (before and after connecting); the cache is in /run,
# so a boot never reads another boot's grains.
grains_cache: true
log_level_logfile: info
# Jobs as threads of the running minion: a forked job re-authenticates with the master on its
# own, which takes seconds on a slow board (or a TCG one).
multiprocessing: false
# The minion's cache (a file per job) and log in RAM: on an NFS root every write is a round
# trip to the site server.
cachedir: /run/salt-minion/cache
log_file: /run/salt-minion/minion.log
"""
MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer", "systemd-networkd.service",
          "systemd-networkd-wait-online.service", "e2scrub_all.timer", "fstrim.timer")


def write(root, relpath, text, mode=0o644):
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _link(root, relpath, target):
    path = os.path.join(root, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def configure(root):
    """Write the farm's configuration into the fresh tree ``root`` (ours: no hostile links yet)."""
    write(root, "etc/fstab", FSTAB)
    write(root, "etc/hosts", HOSTS)
    write(root, "etc/hostname", "jetson-image\n")
    _resolve_own_name(root)
    write(root, "etc/machine-id", "")  # each board makes its own at first boot
    if os.path.lexists(os.path.join(root, "var/lib/dbus/machine-id")):
        os.unlink(os.path.join(root, "var/lib/dbus/machine-id"))
    for name in os.listdir(os.path.join(root, "etc/ssh")):
        if name.startswith("ssh_host_"):
            os.unlink(os.path.join(root, "etc/ssh", name))
    write(root, "etc/initramfs-tools/scripts/nfs4", (BOOT_FILES / "nfs4").read_text())
    write(root, "etc/initramfs-tools/hooks/jetson-nfs4", (BOOT_FILES / "hook").read_text(), 0o755)
    write(root, "etc/systemd/journald.conf.d/jetson-farm.conf", JOURNALD)
    write(root, "etc/ssh/sshd_config.d/jetson-farm.conf", SSHD)
    write(root, "etc/systemd/system/jetson-ssh-hostkeys.service", HOSTKEYS_UNIT)
    _link(root, "etc/systemd/system/ssh.service.wants/jetson-ssh-hostkeys.service",
          "/etc/systemd/system/jetson-ssh-hostkeys.service")
    write(root, "etc/systemd/system/salt-minion.service", MINION_UNIT)
    _link(root, "etc/systemd/system/multi-user.target.wants/salt-minion.service",
          "/etc/systemd/system/salt-minion.service")
    write(root, "etc/salt/minion.d/farm.conf", MINION_CONF)
    for unit in MASKED:
        _link(root, f"etc/systemd/system/{unit}", "/dev/null")


def _resolve_own_name(root):
    path = os.path.join(root, "etc/nsswitch.conf")
    with open(path, encoding="utf-8") as handle:
        lines = [NSS_HOSTS if line.startswith("hosts:") else line for line in handle]
    write(root, "etc/nsswitch.conf", "".join(lines))


def add_files(root, files):
    """The recipe's ``files`` (``((relpath, text), ...)``), never through a link of the tree."""
    with SafeRoot(root, label="the image being built") as tree:
        for relpath, text in files:
            tree.write_file(relpath, text.encode(), 0o644, create=lambda _relpath: 0o755)


def install_grain(root, site_packages, grain_files, marker_module):
    """The farm's board grain (``jetson_marker``) where the image's minion loads it, and the
    one core module it imports, in the minion's virtualenv."""
    for source in grain_files:
        with open(source, encoding="utf-8") as handle:
            write(root, f"usr/lib/jetson-farm/grains/{os.path.basename(source)}", handle.read())
    package = os.path.join(site_packages, "jetson_farm")
    with open(marker_module, encoding="utf-8") as handle:
        write(root, os.path.join(package, "marker.py"), handle.read())
    write(root, os.path.join(package, "__init__.py"),
          '"""The part of jetson-farm a board needs: its marker (jetson_farm.marker)."""\n')


def is_executable(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK)
    except OSError:
        return False
