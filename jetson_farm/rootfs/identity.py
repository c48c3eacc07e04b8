"""What a swap injects into a rootfs: the board's identity, the user's keys and the marker.

The relative paths are the contract of :mod:`jetson_farm.marker`. Contents come from the
inventory and from ``<root>/boards/<board>/identity/`` (the farm's own folder), never from the
rootfs.
"""

import json
import os
import re
import stat
from dataclasses import dataclass

from jetson_farm import marker
from jetson_farm.errors import NotFound, UnsafePath

SSH_HOST_KEY_RE = re.compile(r"^ssh_host_[a-z0-9]+_key(\.pub)?$")
MINION_KEYS = ("minion.pem", "minion.pub")

# What a booted board makes of itself (docs/images.md, "What a board leaves in its image"):
# saved at the swap like an injected file and put back at the park, so the next board to boot
# the image never shows this one's identity. In the folders of BOARD_MADE_IN, a name the image
# did not have at the swap is removed at the park.
BOARD_MADE = (
    "etc/machine-id",
    "var/lib/dbus/machine-id",
    "var/lib/systemd/random-seed",
    "var/lib/systemd/credential.secret",
)
BOARD_MADE_IN = (
    (marker.SSH_HOST_KEY_DIR, re.compile(r"^ssh_host_")),  # jetson-ssh-hostkeys or sshd's keygen
    (marker.PKI_DIR, re.compile(r"")),  # the minion's keys and the master's it cached (minion_master.pub)
)

# What every board's minion is told besides its master and id (docs/images.md, "The board's
# minion config"): the farm never reads a board's mine, and with the mine on, each start also ran
# a mine.update job at once, which on a slow board builds its loaders while the switch waits for
# the board's answer.
BOARD_MINION_OPTIONS = "mine_enabled: false\n"

# Modes of the folders a swap may have to create (the rest: 0755).
DIR_MODES = {"root": 0o700, "root/.ssh": 0o700, marker.PKI_DIR: 0o700}


@dataclass(frozen=True)
class Injection:
    """One file to write into a rootfs: where, what, with which mode (owned by root)."""

    relpath: str
    data: bytes
    mode: int


def dir_mode(relpath):
    return DIR_MODES.get(relpath, 0o755)


def _read_identity_file(identity_dir, name):
    path = os.path.join(identity_dir, name)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"{path} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def identity_files(identity_dir, board):
    """``{name: bytes}`` of the board's identity: the minion key pair (required) and any SSH
    host keys."""
    missing = [n for n in MINION_KEYS if not os.path.isfile(os.path.join(identity_dir, n))]
    if missing:
        raise NotFound(
            f"board {board} has no minion key pair in {identity_dir} (missing: {', '.join(missing)}): "
            "put the board's minion.pem and minion.pub there (and accept minion.pub on the master)")
    names = list(MINION_KEYS)
    names += sorted(n for n in os.listdir(identity_dir) if SSH_HOST_KEY_RE.match(n))
    return {name: _read_identity_file(identity_dir, name) for name in names}


def injections(inventory, board, image, user, switch_id, identity_dir):
    """The ordered list of :class:`Injection` for ``board`` booting ``image`` for ``user``."""
    account = inventory.user(user)
    files = identity_files(identity_dir, board.name)
    minion_conf = f"# written by jetson-farm for board {board.name}\n" \
                  f"master: {json.dumps(inventory.master)}\nid: {json.dumps(board.minion)}\n" \
                  f"{BOARD_MINION_OPTIONS}"
    keys = "".join(f"{key}\n" for key in account.ssh_keys)
    authorized = f"# jetson-farm: {user} on {board.name} (switch {switch_id})\n{keys}"
    mark = {"board": board.name, "image": image, "user": user, "switch_id": switch_id}
    items = [
        Injection(marker.MINION_ID, f"{board.minion}\n".encode(), 0o644),
        Injection(marker.MINION_CONF, minion_conf.encode(), 0o644),
        Injection(f"{marker.PKI_DIR}/minion.pem", files["minion.pem"], 0o400),
        Injection(f"{marker.PKI_DIR}/minion.pub", files["minion.pub"], 0o644),
    ]
    for name, data in files.items():
        if SSH_HOST_KEY_RE.match(name):
            mode = 0o644 if name.endswith(".pub") else 0o600
            items.append(Injection(f"{marker.SSH_HOST_KEY_DIR}/{name}", data, mode))
    items += [
        Injection(marker.HOSTNAME, f"{board.name}\n".encode(), 0o644),
        Injection(marker.AUTHORIZED_KEYS, authorized.encode(), 0o600),
        Injection(marker.MARKER, (json.dumps(mark, sort_keys=True) + "\n").encode(), 0o644),
    ]
    return items
