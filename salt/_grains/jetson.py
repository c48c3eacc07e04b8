"""The board grain: what image a booted board says it runs.

``jetson_marker`` is the marker the swap injected into the board's rootfs (board, image, user,
switch_id), read from ``jetson_root`` (minion option, default ``/``), or ``{}`` when there is
none. Step 7 of the switch compares its ``switch_id`` with the switch it waits for, so a board
that came back on a stale image is caught. It reports what the board *says*; where an image
really is comes only from the site server's state (rule 2).
"""

import logging

from jetson_farm.marker import read_marker

log = logging.getLogger(__name__)
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def jetson_marker():
    """The grain ``jetson_marker``: the rootfs marker dict, or ``{}``.

    CLI Example:

    .. code-block:: bash

        salt jtk1 grains.get jetson_marker
    """
    root = __opts__.get("jetson_root", "/")
    marker = read_marker(root)
    if marker is None:
        log.debug("no jetson marker under %s", root)
        return {"jetson_marker": {}}
    return {"jetson_marker": marker}
