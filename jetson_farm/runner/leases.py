"""Per-board leases: one switch per board at a time; a lease is free once expired or orphaned.

A lease names its holder as ``pid:start-time:run``: the process on the master that runs the
switch engine itself (``salt-run``'s own process, or the process Salt forks for each
``runner_async`` job of salt-api), and a random ``run`` drawn for that one run. The run part
keeps two runs apart even when they share a process (the reactor's thread pool); the process
part tells whether the holder still runs. When that process is gone (killed, crashed,
finished), the lease is stale and the next run takes it over, resuming the interrupted switch
when it asks for the same thing.

Not the parent process: under salt-api, the runner's parent is one of the master's long-lived
request workers (MWorker), which many runs share, so a second run would have taken the first's
live lease for its own.
"""

import logging
import os
import secrets

from jetson_farm.errors import Refused
from jetson_farm.runner.db import iso, now

log = logging.getLogger(__name__)


def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def holder_token(pid=None):
    """A new holder for one run: ``pid:start-time:run`` of ``pid`` (default: this process, the
    one that runs the engine), with ``run`` random, so no two runs ever share a holder."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}:{secrets.token_hex(8)}"


def holder_alive(token):
    """True while the process named by ``token`` still runs (its pid has the same start time)."""
    try:
        pid, start = token.split(":")[:2]
        return _start_time(int(pid)) == start
    except ValueError:
        return False


def describe(row, at=None):
    """A lease row as the outputter shows it."""
    at = now() if at is None else at
    return {
        "board": row["board"], "switch_id": row["switch_id"], "user": row["user"],
        "image": row["image"], "jid": row["jid"], "since": iso(row["since"]),
        "expires": iso(row["expires"]), "live": is_live(row, at),
    }


def is_live(row, at=None, alive=holder_alive):
    at = now() if at is None else at
    return row["expires"] > at and alive(row["holder"])


def get(conn, board):
    return conn.execute("SELECT * FROM leases WHERE board = ?", (board,)).fetchone()


def check_free(conn, board, holder, alive=holder_alive):
    """The board's current lease row (None, stale, or ``holder``'s own), or Refused naming who holds it.

    The caller opens ``conn`` with ``immediate=True`` so two runs cannot both see the board free.
    """
    current = get(conn, board)
    if current is not None and current["holder"] != holder and is_live(current, now(), alive):
        raise Refused(
            f"board {board} is busy: {current['user']} is switching it to {current['image'] or '(park)'} "
            f"(switch {current['switch_id']}, jid {current['jid'] or '-'}) since {iso(current['since'])}; "
            f"the lease expires {iso(current['expires'])}")
    return current


def put(conn, board, *, switch_id, user, image, jid, holder, ttl):
    """Write ``board``'s lease (replacing a stale one)."""
    at = now()
    conn.execute(
        "INSERT OR REPLACE INTO leases (board, switch_id, user, image, jid, holder, since, expires) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (board, switch_id, user, image, jid or "", holder, at, at + ttl))
    log.debug("board %s: lease for switch %s until +%ss", board, switch_id, ttl)


def held_by(conn, board, holder):
    """The lease of ``board`` if ``holder`` holds it, else Refused (the lease was lost)."""
    current = get(conn, board)
    if current is None or current["holder"] != holder:
        raise Refused(f"board {board}: this orchestration does not hold its lease (taken over or released)")
    return current


def release(conn, board, switch_id):
    """Drop ``board``'s lease if it still belongs to ``switch_id``."""
    conn.execute("DELETE FROM leases WHERE board = ? AND switch_id = ?", (board, switch_id))


def drop_stale(conn, alive=holder_alive):
    """Remove every expired or orphaned lease; the boards freed."""
    at = now()
    stale = [row for row in conn.execute("SELECT * FROM leases") if not is_live(row, at, alive)]
    for row in stale:
        conn.execute("DELETE FROM leases WHERE board = ? AND switch_id = ?", (row["board"], row["switch_id"]))
    return [row["board"] for row in stale]


def all_leases(conn):
    return conn.execute("SELECT * FROM leases ORDER BY board").fetchall()
