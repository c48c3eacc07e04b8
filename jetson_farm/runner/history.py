"""The session history: one row per switch or release of a board.

``outcome`` moves ``switching`` -> ``active`` (the board runs it) -> ``ended`` (a later switch
took the board), or ``switching`` -> ``failed`` / ``interrupted`` / ``parked``.
"""

from jetson_farm.runner.db import iso, now

OPEN_OUTCOMES = ("switching", "active")
COLUMNS = ("board", "user", "image", "started", "ended", "outcome", "jid")


def start(conn, *, switch_id, kind, board, user, image, previous_image, previous_user, jid, inventory=""):
    """A new ``switching`` session; ``inventory`` is the pillar snapshot (JSON) its steps work from."""
    conn.execute(
        "INSERT INTO sessions (switch_id, kind, board, user, image, previous_image, previous_user, "
        "started, outcome, step, jid, inventory) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'switching', 'lease', ?, ?)",
        (switch_id, kind, board, user, image, previous_image or "", previous_user or "", now(), jid or "",
         inventory))
    return get(conn, switch_id)


def get(conn, switch_id):
    return conn.execute("SELECT * FROM sessions WHERE switch_id = ?", (switch_id,)).fetchone()


def set_step(conn, switch_id, step):
    conn.execute("UPDATE sessions SET step = ? WHERE switch_id = ?", (step, switch_id))


def mark_ready(conn, switch_id):
    conn.execute("UPDATE sessions SET outcome = 'active', ready = ?, step = 'record' "
                 "WHERE switch_id = ? AND outcome = 'switching'", (now(), switch_id))


def close(conn, switch_id, outcome, reason=""):
    """End a session that is still open with ``outcome`` (failed, interrupted, parked, ended)."""
    conn.execute(
        "UPDATE sessions SET outcome = ?, reason = ?, ended = ? WHERE switch_id = ? AND outcome IN (?, ?)",
        (outcome, reason, now(), switch_id, *OPEN_OUTCOMES))


def end_active(conn, board, keep=None):
    """End the board's active session(s): their image has left the board."""
    conn.execute(
        "UPDATE sessions SET outcome = 'ended', ended = ? "
        "WHERE board = ? AND outcome = 'active' AND switch_id != ?", (now(), board, keep or ""))


def current(conn, board):
    """The board's open session (switching or active), newest first, or None."""
    return conn.execute(
        "SELECT * FROM sessions WHERE board = ? AND outcome IN (?, ?) ORDER BY started DESC, id DESC LIMIT 1",
        (board, *OPEN_OUTCOMES)).fetchone()


def last(conn, board):
    return conn.execute("SELECT * FROM sessions WHERE board = ? ORDER BY started DESC, id DESC LIMIT 1",
                        (board,)).fetchone()


def open_sessions(conn):
    sql = "SELECT * FROM sessions WHERE outcome IN (?, ?) ORDER BY id"
    return conn.execute(sql, OPEN_OUTCOMES).fetchall()


def query(conn, board=None, user=None, since=None):
    """History rows, oldest first, filtered by board, user and start time (epoch)."""
    sql, args = "SELECT * FROM sessions WHERE 1 = 1", []
    for column, value in (("board", board), ("user", user)):
        if value:
            sql += f" AND {column} = ?"
            args.append(value)
    if since is not None:
        sql += " AND started >= ?"
        args.append(since)
    return [describe(row) for row in conn.execute(sql + " ORDER BY started, id", args)]


def describe(row):
    """A session row as the outputter shows it."""
    if row is None:
        return None
    return {
        "board": row["board"], "user": row["user"], "image": row["image"] or None,
        "started": iso(row["started"]), "ready": iso(row["ready"]), "ended": iso(row["ended"]),
        "outcome": row["outcome"], "jid": row["jid"], "switch_id": row["switch_id"],
        "kind": row["kind"], "step": row["step"], "reason": row["reason"] or None,
    }
