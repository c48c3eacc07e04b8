"""Quarantined boards: no switch is accepted until an admin runs ``jetson.unquarantine``."""

from jetson_farm.errors import Refused
from jetson_farm.runner.db import iso, now


def put(conn, board, reason, by=""):
    conn.execute("INSERT OR REPLACE INTO quarantine (board, reason, since, by) VALUES (?, ?, ?, ?)",
                 (board, reason, now(), by))


def remove(conn, board):
    """Lift the quarantine; True if the board was quarantined."""
    return conn.execute("DELETE FROM quarantine WHERE board = ?", (board,)).rowcount > 0


def get(conn, board):
    row = conn.execute("SELECT * FROM quarantine WHERE board = ?", (board,)).fetchone()
    return None if row is None else describe(row)


def check(conn, board):
    """Refused if ``board`` is quarantined, naming the reason."""
    row = get(conn, board)
    if row is not None:
        raise Refused(f"board {board} is quarantined since {row['since']}: {row['reason']} "
                      f"(salt-run jetson.unquarantine board={board} lifts it)")


def all_boards(conn):
    return {row["board"]: describe(row) for row in conn.execute("SELECT * FROM quarantine ORDER BY board")}


def describe(row):
    return {"board": row["board"], "reason": row["reason"], "since": iso(row["since"]), "by": row["by"]}
