"""The admin's repairs: enrolling a board's minion key, reconciling after a crash."""

import logging

from jetson_farm.errors import JetsonError, Refused
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
    return _accept(ops, board, site, identity)


def enroll_many(inventory, ops, board_names, renew=False):
    """:func:`enroll` for each of ``board_names`` in one runner call: one job per site
    (``jetson_switch.ensure_identity_many``), then each public key accepted on the master.

    Every name must be a board of the inventory, else nothing is done. Each board then fails
    alone: ``{"done": {board: <what enroll returns>}, "failed": {board: why}}``.
    """
    if not board_names:
        raise Refused("no board to enroll")
    by_site = {}
    for name in dict.fromkeys(board_names):
        board = inventory.board(name)
        by_site.setdefault(board.site, []).append(board)
    report = {"done": {}, "failed": {}}
    for site_name, boards in by_site.items():
        site = inventory.site(site_name)
        try:
            made = ops.call(site.minion, "jetson_switch.ensure_identity_many", [b.name for b in boards],
                            renew=renew, timeout=60 + 5 * len(boards))
        except JetsonError as err:
            report["failed"].update((board.name, str(err)) for board in boards)
            continue
        report["failed"].update(made["failed"])
        for board in boards:
            if board.name in made["done"]:
                try:
                    report["done"][board.name] = _accept(ops, board, site, made["done"][board.name])
                except JetsonError as err:
                    report["failed"][board.name] = str(err)
    return report


def _accept(ops, board, site, identity):
    """Accept the public key the site made for ``board``; what ``jetson.enroll`` returns."""
    ops.accept_key(board.minion, identity["pub"])
    log.info("enrolled board %s: minion %s accepted, key pair on %s (%s)", board.name, board.minion,
             site.minion, "new" if identity["created"] else "kept")
    return {"board": board.name, "minion": board.minion, "accepted": True, "site": site.minion,
            "identity": identity["path"], "new_key": identity["created"]}


def enroll_site(inventory, ops, site_minion, boards):
    """Enroll the boards a site server asked for (its reactor event ``jetson/site/enroll``).

    The event is only a prompt (rule 6): in the ``events`` form of ``event.fire_master`` any
    minion writes its ``id`` and its boards. So the request is confirmed with the site itself:
    the site minion that pillar names for ``site_minion`` is asked for its pending-enrolment
    record (``jetson_switch.take_enrolment``, which consumes it), and only boards that record
    lists and pillar gives to that site are enrolled, each with the public key fetched from that
    site. A board the event names that is not the site's is refused. A board whose accepted key
    already is the site's public key is left alone. Returns ``{"site", "enrolled", "unchanged",
    "refused": {board: why}}``; Refused when the site has no pending request.
    """
    site = inventory.site_of_minion(site_minion)
    if not isinstance(boards, list) or not all(isinstance(b, str) for b in boards):
        raise Refused(f"boards must be a list of board names, not {boards!r}")
    done = {"site": site.name, "enrolled": [], "unchanged": [], "refused": {}}
    for name in boards:
        try:
            board = inventory.board(name)
            if board.site != site.name:
                raise Refused(f"board {name} is served by site {board.site}, not by {site.name}")
        except JetsonError as err:
            done["refused"][name] = str(err)
    if done["refused"]:
        return done
    asked = ops.call(site.minion, "jetson_switch.take_enrolment", timeout=60)
    if not asked:
        raise Refused(f"site {site.name} ({site.minion}) has no pending enrolment request: the event "
                      "was not sent by its site state (another minion may fire that tag); nothing was "
                      "enrolled")
    for name in asked:
        try:
            board = inventory.board(name)
            if board.site != site.name:
                raise Refused(f"board {name} is served by site {board.site}, not by {site.name}")
            pub = ops.call(site.minion, "jetson_switch.ensure_identity", board.name, timeout=60)["pub"]
            if (ops.accepted_pub(board.minion) or "").strip() == pub.strip():
                done["unchanged"].append(name)
                continue
            ops.accept_key(board.minion, pub)
            log.info("enrolled board %s for site %s: minion %s accepted", name, site.name, board.minion)
            done["enrolled"].append(name)
        except JetsonError as err:
            done["refused"][name] = str(err)
    return done


def reconcile(conn_factory, inventory, ops):
    """Every site's ``jetson_rootfs.reconcile``, then the runner's records repaired to match."""
    done = {}
    for site in inventory.sites.values():
        done[site.name] = ops.call(site.minion, "jetson_rootfs.reconcile", timeout=900)
    with conn_factory() as conn:
        records = status_core.repair(conn, inventory, status_core.site_states(inventory, ops))
    return {"sites": done, "records": records or ["nothing to repair"]}
