"""The bridge's memory: one SQLite row per occurrence it has seen.

A row keeps what the occurrence asked for (and a hash of it), the status the bridge gave it,
the jid of the orchestration that acted on it, when it was first seen (the first keeps a
board when two bookings overlap) and what was last written back to the event.
"""

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS occurrences (
    key TEXT PRIMARY KEY,
    calendar_url TEXT NOT NULL,
    href TEXT NOT NULL,
    uid TEXT NOT NULL,
    recurrence_id TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    hash TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    board TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL DEFAULT '',
    start TEXT NOT NULL DEFAULT '',
    "end" TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    jid TEXT NOT NULL DEFAULT '',
    written TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    now TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""
COLUMNS = ("key", "calendar_url", "href", "uid", "recurrence_id", "first_seen", "hash", "user",
           "board", "image", "start", "end", "status", "reason", "jid", "written", "updated")


@dataclass(frozen=True)
class Row:
    key: str
    calendar_url: str
    href: str
    uid: str
    recurrence_id: str
    first_seen: str
    hash: str
    user: str
    board: str
    image: str
    start: str
    end: str
    status: str
    reason: str
    jid: str
    written: str
    updated: str

    @property
    def start_dt(self):
        return datetime.fromisoformat(self.start) if self.start else None

    @property
    def end_dt(self):
        return datetime.fromisoformat(self.end) if self.end else None

    def written_as(self):
        """What the event should carry for this row: compared with ``written``."""
        return written_token(self.status, self.reason, self.hash)


def written_token(status, reason, request_hash):
    return f"{status}|{request_hash}|{reason}"


def request_hash(*parts):
    """A stable hash of what an occurrence asks for (user, board, image, start, end, status)."""
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _iso(value):
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value or "")


class Ledger:
    """The SQLite ledger at ``path`` (created with its folder on first use)."""

    def __init__(self, path):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o750, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def rows(self):
        """Every row, by key."""
        cursor = self.db.execute(f"SELECT {', '.join(_q(c) for c in COLUMNS)} FROM occurrences")  # noqa: S608
        return {r["key"]: Row(**dict(r)) for r in cursor}

    def see(self, occurrence, now):
        """Record that ``occurrence`` was read (keeps the first ``first_seen``); its first_seen."""
        row = self.db.execute("SELECT first_seen FROM occurrences WHERE key = ?",
                              (occurrence.key,)).fetchone()
        if row:
            return row["first_seen"]
        self.db.execute(
            "INSERT INTO occurrences (key, calendar_url, href, uid, recurrence_id, first_seen, hash, "
            "start, \"end\", updated) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?)",
            (occurrence.key, occurrence.calendar_url, occurrence.href, occurrence.uid,
             occurrence.recurrence_id, _iso(now), _iso(occurrence.start), _iso(occurrence.end),
             _iso(now)))
        self.db.commit()
        return _iso(now)

    def record(self, key, now, *, status, reason="", hash=None, jid=None, **request):
        """Set the status of ``key`` (and what it asked for, when given)."""
        fields = {"status": status, "reason": reason, "updated": _iso(now)}
        if hash is not None:
            fields["hash"] = hash
        if jid is not None:
            fields["jid"] = jid
        for name in ("user", "board", "image", "href"):
            if name in request:
                fields[name] = request[name] or ""
        for name in ("start", "end"):
            if name in request:
                fields[name] = _iso(request[name])
        assignments = ", ".join(f"{_q(name)} = ?" for name in fields)
        cursor = self.db.execute(f"UPDATE occurrences SET {assignments} WHERE key = ?",  # noqa: S608
                                 (*fields.values(), key))
        if cursor.rowcount != 1:
            raise KeyError(f"the ledger has no occurrence {key!r}")
        self.db.commit()

    def mark_written(self, key, token):
        self.db.execute("UPDATE occurrences SET written = ? WHERE key = ?", (token, key))
        self.db.commit()

    def add_run(self, started, now, summary):
        self.db.execute("INSERT INTO runs (started, now, summary) VALUES (?, ?, ?)",
                        (_iso(started), _iso(now), json.dumps(summary, sort_keys=True)))
        self.db.commit()


def _q(name):
    return f'"{name}"'
