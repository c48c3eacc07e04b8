"""The lab's VM boards, as ``jetson-lab up --vm-boards N`` brings them up (see jetson_lab.vm_board).

Each VM board boots a real image that the site server builds with its own command,
``jetson_rootfs.build`` (the recipe ``vm-base`` of the lab's pillar, cached by the site, so
only the first lab on a machine pays for debootstrap): its default image
``admin/vm-base-<board>``, like a process board's ``admin/l4t-base-<board>``.
"""

import logging
import os
import pathlib
import signal

from jetson_lab import network
from jetson_lab.config import SITE_MINION
from jetson_lab.errors import LabError

log = logging.getLogger(__name__)

VM_RECIPE = "vm-base"
BUILD_TIMEOUT = 3600  # a first build downloads and installs a whole Debian
# TCG boots a Debian kernel to its minion in about a minute, two at once in about two.
VM_READY_TIMEOUT = 1200


def default_image(board):
    return f"admin/{VM_RECIPE}-{board}"


def recipes():
    """The lab's image recipes (pillar ``jetson:recipes``)."""
    return {VM_RECIPE: {"image": f"admin/{VM_RECIPE}",
                        "files": {"etc/jetson-image": f"{VM_RECIPE}\n"}}}


def pillar_boards(config):
    """``{board: pillar entry}`` of the VM boards."""
    net = config.network
    boards = {}
    for board in config.vm_boards:
        index = config.vm_index(board)
        boards[board] = {
            "site": SITE_MINION, "minion": board, "ip": net.board_addr(index), "mac": net.mac(index),
            "nfsroot": config.nfsroot(board), "netmask": str(net.network.netmask),
            "gateway": net.bridge_addr, "flash": {"target": "jetson-tk1", "iface": "eth0"},
            # TCG boots take one to several minutes, more on a busy machine.
            "image": default_image(board), "boot_timeout": 900, "down_timeout": 60,
        }
    return boards


def prepare(config):
    """Each VM board's tap on the bridge and its empty nfsroot."""
    for board in config.vm_boards:
        network.create_tap(config.network, config.vm_index(board))
        pathlib.Path(config.nfsroot(board)).mkdir(parents=True, exist_ok=True)


def build_images(config, salt):
    """Build (or take from the site's cache) each VM board's default image, unless it exists.

    ``salt(args, timeout)`` runs ``salt`` against the lab's master: (code, data, output).
    """
    code, data, out = salt([SITE_MINION, "jetson_rootfs.list", "user=admin"], 120)
    if code != 0:
        raise LabError(f"salt {SITE_MINION} jetson_rootfs.list failed: {out.strip()[-500:]}")
    have = {item["image"] for item in (data or {}).get(SITE_MINION) or []}
    for board in config.vm_boards:
        image = default_image(board)
        if image in have:
            continue
        log.info("lab %s: building %s (jetson_rootfs.build %s; cached after the first)",
                 config.name, image, VM_RECIPE)
        code, data, out = salt(["-t", str(BUILD_TIMEOUT), SITE_MINION, "jetson_rootfs.build",
                                VM_RECIPE, f"image={image}"], BUILD_TIMEOUT + 60)
        if code != 0:
            raise LabError(f"salt {SITE_MINION} jetson_rootfs.build {VM_RECIPE} image={image} failed: "
                           f"{out.strip()[-800:]}")
        result = (data or {}).get(SITE_MINION) or {}
        log.info("lab %s: %s", config.name, result.get("comment", result))


def kill_stray_qemu(config):
    """The QEMUs of a supervisor killed hard: found by this lab's own QMP socket paths."""
    sockets = {f"unix:{config.run_dir(b) / 'qmp.sock'},server=on,wait=off".encode()
               for b in config.vm_boards}
    if not sockets:
        return
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if sockets & set((proc / "cmdline").read_bytes().split(b"\0")):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue
