"""The runner's SQLite database on the master: leases, session history and quarantine.

One file (master opt ``jetson_db``, default ``<cachedir>/jetson/farm.db``) shared by the
parallel steps of every orchestration, so every write is a short transaction and leases are
taken under ``BEGIN IMMEDIATE``.
"""

import contextlib
import datetime
import os
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    board TEXT PRIMARY KEY,
    switch_id TEXT NOT NULL,
    user TEXT NOT NULL,
    image TEXT NOT NULL,
    jid TEXT NOT NULL DEFAULT '',
    holder TEXT NOT NULL,
    since REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    switch_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    board TEXT NOT NULL,
    user TEXT NOT NULL,
    image TEXT NOT NULL,
    previous_image TEXT NOT NULL DEFAULT '',
    previous_user TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    ready REAL,
    ended REAL,
    outcome TEXT NOT NULL,
    step TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    jid TEXT NOT NULL DEFAULT '',
    inventory TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_board ON sessions (board, started);
CREATE TABLE IF NOT EXISTS quarantine (
    board TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since REAL NOT NULL,
    by TEXT NOT NULL DEFAULT ''
);
"""


def default_path(cachedir):
    return os.path.join(cachedir, "jetson", "farm.db")


def now():
    return time.time()


def iso(stamp):
    """A UTC ISO-8601 string for an epoch stamp (None stays None), as the outputter shows it."""
    if stamp is None:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """An epoch stamp from an ISO date/time string or a number (for ``since=`` filters)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        stamp = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"since={value!r} is not an ISO date or date-time (e.g. 2026-11-23T09:00)") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


class FarmDB:
    """A connection factory for the database at ``path`` (created with its schema on first use)."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        conn = sqlite3.connect(path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
            if "inventory" not in columns:  # a database made before the column existed
                conn.execute("ALTER TABLE sessions ADD COLUMN inventory TEXT NOT NULL DEFAULT ''")
        finally:
            conn.close()

    @contextlib.contextmanager
    def connect(self, immediate=False):
        """A connection in one transaction: committed on success, rolled back on error."""
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
