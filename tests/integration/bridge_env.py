"""The bridge wired to a real CalDAV server and a real SMTP sink, for the integration tests.

``RecordedFarm`` stands in for Salt in the CalDAV-side tests only: it answers ``status``,
``switch``, ``release``, ``copies`` and ``set_bookings`` as the runner's contract says, with every
board coming up at once on the image asked (a user's own copy of a shared image, as the switch
boots it), and records the calls (the copies apart, in ``copy_calls``; the pushed bookings in
``pushed``). The Salt side itself (the ``local`` and ``api``
gateways, the real runner and lab boards) is tested in test_bridge_salt*.py and the e2e test.
"""

import copy
import itertools
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import yaml

from calendar_bridge.caldav_door import CalendarStore
from calendar_bridge.config import build
from calendar_bridge.ledger import Ledger
from calendar_bridge.mail import Mailer
from calendar_bridge.reader import load_inventory
from calendar_bridge.sync import Bridge
from tests.conftest import make_pillar

DEFAULT_IMAGE = "admin/factory"  # what a released board runs; no test books it


class RecordedFarm:
    def __init__(self, boards, templates=()):
        self._jids = itertools.count(1)
        self.calls, self.copy_calls, self.pushed = [], [], []
        self.templates, self.copies_made = set(templates), set()
        self.boards = {b: self._board(DEFAULT_IMAGE, None, "up") for b in boards}

    def _booted(self, image, user):
        owner, name = image.split("/")
        return f"{user}/{name}" if image in self.templates and owner != user else image

    @staticmethod
    def _board(image, user, state):
        return {"image": image, "owner": image.split("/")[0] if image else None, "user": user,
                "state": state, "since": datetime.now(UTC).isoformat(), "session": None}

    def status(self):
        return copy.deepcopy(self.boards)

    def switch(self, boards):
        self.calls.append(("switch", copy.deepcopy(boards)))
        for board, want in boards.items():
            self.boards[board] = self._board(self._booted(want["image"], want["user"]), want["user"], "up")
        return {"jid": f"2026112400000{next(self._jids):05d}", "success": True, "return": {}}

    def copies(self, items):
        self.copy_calls.append(copy.deepcopy(items))
        done = {}
        for item in items:
            image = self._booted(item["template"], item["user"])
            done[image] = {"image": image, "template": item["template"], "method": "reflink",
                           "made": image not in self.copies_made, "bytes": 1000, "seconds": 0.1,
                           "comment": f"{image} ready"}
            self.copies_made.add(image)
        return {"done": done, "failed": {}}

    def set_bookings(self, bookings):
        self.pushed.append(copy.deepcopy(bookings))
        return {"sites": {"site01": {"bookings": len(bookings), "changed": True}}, "failed": {}}

    def release(self, boards):
        self.calls.append(("release", sorted(boards)))
        for board in boards:
            self.boards[board] = self._board(DEFAULT_IMAGE, None, "up")
        return {"jid": f"2026112400000{next(self._jids):05d}", "success": True, "return": {}}


class BridgeEnv:
    """One test's bridge: fresh calendars ``<user>/boards-<id>/`` on ``server``, its own ledger."""

    def __init__(self, server, sink, tmp_path, farm_dir, salt=None, extra_config=None):
        self.server, self.sink = server, sink
        self.calendar = f"boards-{uuid.uuid4().hex[:8]}"
        self.urls = {user: server.make_calendar(user, self.calendar) for user in ("alice", "bob")}
        pillar = make_pillar(farm_dir)
        pillar["images"]["admin/ros"] = {"shared": ["alice"]}
        self.pillar_file = tmp_path / "jetson.yaml"
        self.pillar_file.write_text(yaml.safe_dump({"jetson": pillar}))
        secret = tmp_path / "caldav.secret"
        secret.write_text(server.passwords["bridge"] + "\n")
        raw = {
            "caldav": {"url": server.url, "username": "bridge", "password_file": str(secret), "timeout": 30},
            "calendar_template": "{user}/" + self.calendar + "/",
            "timezone": "Europe/Paris",
            "inventory": {"pillar_file": str(self.pillar_file)},
            "smtp": {"host": "127.0.0.1", "port": sink.port, "from": "farm@example.org",
                     "admins": ["oncall@example.org"]},
            "ledger": str(tmp_path / "ledger.sqlite"),
        }
        raw.update(extra_config or {})
        self.raw_config = raw
        self.config = build(raw)
        self.inventory = load_inventory(self.config)
        self.salt = salt or RecordedFarm(sorted(self.inventory.boards),
                                         templates=[ref for ref, spec in self.inventory.images.items()
                                                    if spec.get("shared")])
        self.ledger = Ledger(self.config.ledger)
        self.store = CalendarStore(self.config.caldav_url, "bridge", server.passwords["bridge"], 30)
        self.bridge = Bridge(self.config, self.inventory, self.store, self.salt, self.ledger,
                             Mailer(self.config.smtp))

    def close(self):
        self.ledger.close()

    def put(self, user, uid, ics):
        """Save ``ics`` in ``user``'s calendar as that user's client would; its URL."""
        url = f"{self.urls[user]}{uid}.ics"
        self.server.put(url, ics, user=user)
        return url

    def sync(self, now):
        return self.bridge.execute(self.bridge.prepare(now))

    def event(self, user, uid):
        """The event text as the server has it now."""
        return self.server.get(f"{self.urls[user]}{uid}.ics", user=user)[0]


BRIDGE = Path(sys.executable).parent / "calendar-bridge"


def local_bridge_config(path, radicale, lab, sink, tmp_path, timeout=900):
    """A ``calendar-bridge`` config file at ``path`` driving ``lab`` in ``local`` mode: Radicale's
    calendars ``<user>/boards/``, three hours' lead time, mail to ``sink``."""
    secret = tmp_path / "caldav.secret"
    secret.write_text(radicale.passwords["bridge"])
    path.write_text(yaml.safe_dump({
        "caldav": {"url": radicale.url, "username": "bridge", "password_file": str(secret)},
        "calendar_template": "{user}/boards/",
        "lead_time": "3h",
        "salt": {"mode": "local", "master_config": str(lab.master_dir / "master"), "timeout": timeout},
        "inventory": {"salt_minion": lab.site},
        "smtp": {"host": "127.0.0.1", "port": sink.port, "from": "farm@example.org"},
        "ledger": str(tmp_path / "ledger.sqlite"),
    }))
    return path


def run_sync(config, *args, timeout=1200):
    """``calendar-bridge --config CONFIG sync --json ARGS``: (exit code, JSON report, stderr)."""
    proc = subprocess.run([str(BRIDGE), "--config", str(config), "sync", "--json", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None, proc.stderr
