#!/usr/bin/env bash
# Install everything jetson-farm needs on a fresh Debian 12 machine. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    python3-venv            # the project's virtualenv
    nfs-kernel-server       # exportfs, for the kernel NFS backend
    nfs-ganesha nfs-ganesha-vfs rpcbind dbus   # the user-space NFS server and its DBus control
    libnfs-utils            # nfs-ls / nfs-cat: a real NFS client that needs no kernel support
    systemd                 # busctl: the Ganesha backend's DBus calls (JSON replies)
    iproute2 iputils-ping   # network namespaces and veth for the lab boards
    nftables                # the lab binds each board's bridge port to its address (anti-spoofing)
    openipmi ipmitool       # ipmi_sim, a simulated BMC, and the ipmi power driver's client
    btrfs-progs xfsprogs    # loop-mounted btrfs and XFS: the reflink clone tests (tests/loopfs.py)
    openssh-client openssh-server   # the ssh power driver and its virtual board's sshd
    sudo                    # jetson-image: users run it through one sudo rule (tests use a real one)
    debootstrap             # jetson_rootfs.build: NFS-root images from scratch
    qemu-system-x86         # the lab's VM boards, which boot those images over NFS (tests/e2e)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts these on install; the farm starts its own instances when it needs them.
# Only the distribution's own Ganesha is stopped (it would hold port 2049 on every address):
# a running lab's Ganesha has its own pid file and is left alone.
for svc in nfs-ganesha nfs-kernel-server ssh; do
    systemctl stop "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
if [ -s /run/ganesha/ganesha.pid ]; then
    kill "$(cat /run/ganesha/ganesha.pid)" >/dev/null 2>&1 || true
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.jetson-farm-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    echo "setup: installing Python packages into .venv"
    # -qq: errors only. At -q pip still prints setuptools' notice on every editable install and
    # one line per find-links folder of the machine's pip config that does not exist.
    .venv/bin/pip install -qq --upgrade pip
    .venv/bin/pip install -qq -c constraints.txt -e '.[test]'
    touch "$stamp"
fi
echo "setup: done"
