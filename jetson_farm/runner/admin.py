"""The admin's repairs: enrolling a board's minion key, reconciling after a crash."""

import logging

from jetson_farm.runner import status as status_core

log = logging.getLogger(__name__)


def enroll(inventory, ops, board_name, renew=False):
    """Have the board's site make its minion key pair in place; accept the public half on the master.

    The private key never leaves the site (no job argument or return carries it). The pair
    outlives every image: each swap injects it into the rootfs at the board's nfsroot.
    """
    board = inventory.board(board_name)
    site = inventory.site(board.site)
    identity = ops.call(site.minion, "jetson_switch.ensure_identity", board.name, renew=renew, timeout=60)
    ops.accept_key(board.minion, identity["pub"])
    log.info("enrolled board %s: minion %s accepted, key pair on %s (%s)", board.name, board.minion,
             site.minion, "new" if identity["created"] else "kept")
    return {"board": board.name, "minion": board.minion, "accepted": True, "site": site.minion,
            "identity": identity["path"], "new_key": identity["created"]}


def reconcile(conn_factory, inventory, ops):
    """Every site's ``jetson_rootfs.reconcile``, then the runner's records repaired to match."""
    done = {}
    for site in inventory.sites.values():
        done[site.name] = ops.call(site.minion, "jetson_rootfs.reconcile", timeout=900)
    with conn_factory() as conn:
        records = status_core.repair(conn, inventory, status_core.site_states(inventory, ops))
    return {"sites": done, "records": records or ["nothing to repair"]}
