"""Where the farm writes into a board's rootfs, and how a booted board reads its marker back.

These relative paths are the contract between the swap (which injects them, reversibly),
the board grain (which reports the marker) and the lab boards (which boot from them).
The marker tells what a board *says* it booted; where an image really is comes only from
``<root>/state/`` on the site server (rule 2).
"""

import json
import os

MARKER = "etc/jetson-farm/marker.json"  # {"board", "image", "user", "switch_id"}
MINION_ID = "etc/salt/minion_id"
MINION_CONF = "etc/salt/minion.d/jetson.conf"  # master: <addr>, id: <minion>
PKI_DIR = "etc/salt/pki/minion"  # minion.pem, minion.pub from <root>/boards/<board>/identity/
HOSTNAME = "etc/hostname"
AUTHORIZED_KEYS = "root/.ssh/authorized_keys"
SSH_HOST_KEY_DIR = "etc/ssh"  # ssh_host_*_key[.pub] from the identity folder, when present

MARKER_MAX_BYTES = 4096


def read_marker(root="/"):
    """The marker dict of the rootfs at ``root``, or None if absent or unreadable.

    Used on the board itself (by the grain), so it only ever reads and caps what it reads.
    """
    path = os.path.join(root, MARKER)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.loads(handle.read(MARKER_MAX_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {key: str(data[key]) for key in ("board", "image", "user", "switch_id") if key in data}
