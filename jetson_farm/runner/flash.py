"""The L4T flash command that points a board at its NFS root (docs/architecture.md, "The inventory")."""

import re

from jetson_farm.errors import InventoryError

TARGET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
IFACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$")


def flash_command(inventory, board_name):
    """``sudo ./flash.sh -N <server>:<nfsroot> -n <ip>:<server>:<gateway>:<netmask> <target> <iface>``.

    Every part comes from the checked inventory; what it lacks is named, so the line printed
    for the admin is always whole.
    """
    board = inventory.board(board_name)
    site = inventory.site(board.site)
    missing = []
    if not site.address:
        missing.append(f"sites.{site.name}.address (the site server's address on the boards' segment)")
    if not board.gateway:
        missing.append(f"boards.{board.name}.gateway")
    target = board.flash.get("target", "")
    iface = board.flash.get("iface", "eth0")
    if not isinstance(target, str) or not TARGET_RE.match(target):
        missing.append(f"boards.{board.name}.flash.target (a board config name such as jetson-tk1), "
                       f"got {target!r}")
    if not isinstance(iface, str) or not IFACE_RE.match(iface):
        missing.append(f"boards.{board.name}.flash.iface (a network interface such as eth0), got {iface!r}")
    if missing:
        raise InventoryError([f"cannot build the flash command of {board.name}: set {item}"
                              for item in missing])
    return (f"sudo ./flash.sh -N {site.address}:{board.nfsroot} "
            f"-n {board.ip}:{site.address}:{board.gateway}:{board.netmask} {target} {iface}")
