"""The write-back text, the configuration's errors, the ledger."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calendar_bridge.config import build, parse_lead_time
from calendar_bridge.errors import ConfigError
from calendar_bridge.ledger import Ledger
from calendar_bridge.occurrences import read_object
from calendar_bridge.sync import horizon_for
from calendar_bridge.writeback import apply_status, read_status, status_block
from tests.bridge_events import booking_ics

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 24, 9, tzinfo=PARIS)


def test_block_replaces_the_previous_one_and_keeps_the_users_text():
    ics = booking_ics("a", START, START + timedelta(hours=2), description="my notes\nline two")
    block = status_block("ready", "", "01:07", "ssh -J alice@site01 root@jtk1")
    assert block == "[jetson-farm] ready 01:07 — ssh -J alice@site01 root@jtk1"
    once = apply_status(ics, "a", "", PARIS, "ready", "", block)
    twice = apply_status(once, "a", "", PARIS, "released", "the slot has ended",
                         status_block("released", "the slot has ended", "18:00"))
    event = icalendar.Calendar.from_ical(twice).walk("VEVENT")[0]
    assert str(event["DESCRIPTION"]) == ("[jetson-farm] released 18:00 — the slot has ended\n\n"
                                         "my notes\nline two")
    assert read_status(twice, "a", "", PARIS) == ("released", "the slot has ended")
    assert event["SEQUENCE"] == 0


def test_event_with_attendees_gets_only_the_property():
    ics = booking_ics("a", START, START + timedelta(hours=2), description="agenda",
                      attendees=["bob@example.org"])
    text = apply_status(ics, "a", "", PARIS, "rejected", 'bad "board"; a:b', "[jetson-farm] rejected")
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert str(event["DESCRIPTION"]) == "agenda"
    assert read_status(text, "a", "", PARIS) == ("rejected", "bad 'board'; a:b")


def test_occurrence_status_goes_on_its_override_or_on_the_master():
    ics = booking_ics("w", START, START + timedelta(hours=1), rrule={"FREQ": "WEEKLY", "COUNT": 3},
                      overrides=[{"recurrence_id": START + timedelta(weeks=1),
                                  "start": START + timedelta(weeks=1, hours=2)}])
    rid_override = (START + timedelta(weeks=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    rid_plain = (START + timedelta(weeks=2)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = apply_status(ics, "w", rid_override, PARIS, "ready", "", "[jetson-farm] ready")
    text = apply_status(text, "w", rid_plain, PARIS, "scheduled", "waits", "[jetson-farm] scheduled")
    master, override = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(override["X-JETSON-STATUS"]) == "ready"
    assert str(master["X-JETSON-STATUS"]) == "scheduled"
    assert master["X-JETSON-STATUS"].params["X-OCCURRENCE"] == rid_plain
    occurrences, _ = read_object(text, "c", "h", PARIS, START.astimezone(UTC), START + timedelta(weeks=4))
    assert len(occurrences) == 3  # the write-back changed no time


@pytest.mark.parametrize("raw, message", [
    ({}, "caldav.url: required"),
    ({"caldav": {"url": "ftp://x"}}, "caldav.url: 'ftp://x' is not an http(s) URL"),
    ({"caldav": {"url": "http://dav/", "password": "x"}}, "caldav.password: secrets may not be written"),
    ({"caldav": {"url": "http://dav/"}}, "calendars: give a list of calendars or a calendar_template"),
    ({"caldav": {"url": "http://dav/"}, "calendars": [{"url": "a/"}]},
     "calendars[0].owner: required under trust: owner"),
    ({"caldav": {"url": "http://dav/"}, "calendars": [{"url": "http://evil/x/", "owner": "a"}]},
     "calendars[0].url: 'http://evil/x/' is not on the CalDAV server"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "boards/"},
     "calendar_template: 'boards/' must contain {user}"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/", "lead_time": "soon"},
     "lead_time: 'soon' must be 'day'"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/", "salt": {"mode": "ssh"}},
     "salt.mode: 'ssh' must be one of local, api"),
    ({"caldav": {"url": "http://dav/", "password_env": "NO_SUCH_VARIABLE_X"}, "calendar_template": "{user}/"},
     "caldav.password_env: environment variable 'NO_SUCH_VARIABLE_X' is not set"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/", "timezone": "Mars/Olympus"},
     "timezone: 'Mars/Olympus' is not a known time zone"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/", "colour": "red"},
     "colour: unknown key"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/"},
     "inventory: give pillar_file"),
    ({"caldav": {"url": "http://dav/"}, "calendar_template": "{user}/b/", "inventory": {"salt_minion": "s"},
      "salt": {"mode": "api", "url": "http://127.0.0.1:8000", "username": "bridge"}},
     "inventory.pillar_file: required with salt.mode api"),
])
def test_bad_config_names_the_key(raw, message):
    with pytest.raises(ConfigError) as err:
        build(raw)
    assert message in str(err.value)


def test_good_config_and_horizon(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_PW", "s3cret")
    config = build({"caldav": {"url": "http://dav", "username": "bridge", "password_env": "BRIDGE_PW"},
                    "calendar_template": "{user}/boards/", "lead_time": "30m",
                    "inventory": {"pillar_file": "/srv/pillar/jetson.yaml"}})
    assert config.caldav_password == "s3cret" and "s3cret" not in repr(config)
    assert [s.url for s in config.calendar_specs(["bob", "alice"])] == [
        "http://dav/alice/boards/", "http://dav/bob/boards/"]
    assert parse_lead_time("2h") == timedelta(hours=2)
    night = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # 01:30 in Paris
    assert horizon_for(night, None, PARIS) == datetime(2026, 11, 25, 0, 0, tzinfo=PARIS)
    assert horizon_for(night, timedelta(minutes=30), PARIS) == night + timedelta(minutes=30)


def test_ledger_keeps_first_seen_and_records(tmp_path):
    ics = booking_ics("a", START, START + timedelta(hours=2))
    [o], _ = read_object(ics, "c", "h", PARIS, START.astimezone(UTC), START + timedelta(days=1))
    t1, t2 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    with Ledger(str(tmp_path / "sub" / "ledger.sqlite")) as ledger:
        assert ledger.see(o, t1) == t1.isoformat()
        assert ledger.see(o, t2) == t1.isoformat()
        ledger.record(o.key, t2, status="ready", reason="", hash="h1", jid="2026", user="alice",
                      board="jtk1", image="alice/x", start=o.start, end=o.end)
        row = ledger.rows()[o.key]
        assert (row.status, row.jid, row.board, row.end_dt) == ("ready", "2026", "jtk1", o.end)
        with pytest.raises(KeyError, match="the ledger has no occurrence 'nope'"):
            ledger.record("nope", t2, status="ready")
