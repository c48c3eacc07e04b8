"""The admin's repairs: enrolling a board's minion key, reconciling after a crash."""

import logging

from jetson_farm.runner import status as status_core

log = logging.getLogger(__name__)


def enroll(inventory, ops, board_name):
    """Generate and accept the board's minion key; store the pair in its identity folder on its site.

    The pair outlives every image: each swap injects it into the rootfs at the board's nfsroot.
    """
    board = inventory.board(board_name)
    site = inventory.site(board.site)
    pub, priv = ops.accept_new_key(board.minion)
    stored = ops.call(site.minion, "jetson_switch.store_identity", board.name, pub, priv, timeout=60)
    log.info("enrolled board %s: minion %s accepted, key pair on %s", board.name, board.minion, site.minion)
    return {"board": board.name, "minion": board.minion, "accepted": True, "site": site.minion,
            "identity": stored}


def reconcile(conn_factory, inventory, ops):
    """Every site's ``jetson_rootfs.reconcile``, then the runner's records repaired to match."""
    done = {}
    for site in inventory.sites.values():
        done[site.name] = ops.call(site.minion, "jetson_rootfs.reconcile", timeout=900)
    with conn_factory() as conn:
        records = status_core.repair(conn, inventory, status_core.site_states(inventory, ops))
    return {"sites": done, "records": records or ["nothing to repair"]}
