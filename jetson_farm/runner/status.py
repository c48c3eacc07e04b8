"""One row per board, from the site's state files, the runner's records and minion presence."""

import logging

from jetson_farm.errors import JetsonError
from jetson_farm.runner import history, leases, quarantine

log = logging.getLogger(__name__)


def ask_sites(inventory, ops, fun, only=None):
    """``{site: answer}`` of ``fun`` on every site server (or the sites ``only``), one after
    another; a site that does not answer is logged and left out. Each site is waited for a
    third of its ``silent_timeout`` (Salt's ``timeout``), then asked whether it still runs the
    job (another third, ``gather_job_timeout``): a site still on it is waited for, a silent
    one is given up."""
    answers = {}
    for site in inventory.sites.values():
        if only is not None and site.name not in only:
            continue
        wait = max(1, site.silent_timeout // 3)  # whole seconds: Salt's client reads a float as its default
        try:
            answers[site.name] = ops.call(site.minion, fun, timeout=wait, gather_job_timeout=wait)
        except JetsonError as err:
            log.warning("site %s: no answer to %s: %s", site.name, fun, err)
    return answers


def site_states(inventory, ops):
    """``{board: state}`` from every site's ``jetson_rootfs.state``; an unreachable site gives none."""
    states = {}
    for value in ask_sites(inventory, ops, "jetson_rootfs.state").values():
        if isinstance(value, dict):
            states.update({board: state for board, state in value.items() if isinstance(state, dict)})
    return states


def board_row(board, site_state, lease, quarantined, session, last, present):
    """The status of one board.

    ``site_state`` is the site's ``jetson_rootfs.state`` for the board (the only truth about
    which image sits at its nfsroot, rule 2); the rest are the runner's records.
    """
    image = (site_state or {}).get("image") or None
    owner = image.split("/", 1)[0] if image else None
    if quarantined:
        state = "quarantined"
    elif lease is not None and leases.is_live(lease):
        state = "switching"
    elif present:
        state = "up"
    elif last is not None and last["outcome"] in ("failed", "interrupted"):
        state = "failed"  # its last switch failed and it is not up: the admin has work to do
    else:
        state = "down"
    current = session if session is not None and session["image"] == (image or "") else None
    since = (site_state or {}).get("since")
    if current is not None:
        since = history.describe(current)["ready"] or history.describe(current)["started"]
    return {
        "image": image,
        "owner": owner,
        "user": current["user"] if current is not None else owner,
        "state": state,
        "since": since,
        "session": history.describe(current),
        "quarantine": quarantined,
        "lease": leases.describe(lease) if lease is not None else None,
    }


def assemble(conn, inventory, site_states, present):
    """``{board: row}`` for every board of the inventory, each row naming the board's site."""
    table = {}
    for name in sorted(inventory.boards):
        table[name] = dict(board_row(
            inventory.boards[name], site_states.get(name), leases.get(conn, name),
            quarantine.get(conn, name), history.current(conn, name), history.last(conn, name),
            inventory.boards[name].minion in present), site=inventory.boards[name].site)
    return table


def repair(conn, inventory, site_states):
    """Make the runner's records agree with the site after a crash; a list of what it fixed.

    Stale leases go; a ``switching`` session with no live lease is ``interrupted``; an
    ``active`` session whose image is no longer at its board's nfsroot has ``ended``.
    """
    fixed = [f"dropped the stale lease of {board}" for board in leases.drop_stale(conn)]
    for row in history.open_sessions(conn):
        lease = leases.get(conn, row["board"])
        if row["outcome"] == "switching" and (lease is None or lease["switch_id"] != row["switch_id"]):
            history.close(conn, row["switch_id"], "interrupted", "no run holds its lease (reconcile)")
            fixed.append(f"switch {row['switch_id']} of {row['board']}: interrupted")
        elif row["outcome"] == "active" and row["board"] in inventory.boards:
            state = site_states.get(row["board"]) or {}
            if (state.get("image") or "") != row["image"]:
                history.close(conn, row["switch_id"], "ended", "its image left the board (reconcile)")
                fixed.append(f"session {row['switch_id']} of {row['board']}: ended")
    return fixed
