"""The bridge's Salt side on real daemons: ``local`` (RunnerClient on the session master, through
the real ``calendar-bridge`` command) and ``api`` (a real salt-api whose eauth user may only run
``state.orch`` of ``jetson.*``, ``jetson.status``, ``jetson.working_copies``, ``jetson.set_bookings``
and ``jobs.lookup_jid``)."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from calendar_bridge.errors import SaltError
from calendar_bridge.salt_gateway import ApiSalt, LocalSalt
from tests.bridge_events import booking_ics
from tests.caldav_servers import Radicale, free_port
from tests.conftest import SALT_DIR, make_pillar
from tests.unit.test_rootfs_helpers import manifest, seed_store

BRIDGE = Path(sys.executable).parent / "calendar-bridge"
SECRET = "api-shared-secret"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    with Radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


def write_config(path, server, calendar, salt, inventory):
    secret = path.parent / "caldav.secret"
    secret.write_text(server.passwords["bridge"])
    path.write_text(yaml.safe_dump({
        "caldav": {"url": server.url, "username": "bridge", "password_file": str(secret)},
        "calendar_template": "{user}/" + calendar + "/",
        "timezone": "Europe/Paris",
        "salt": salt,
        "inventory": inventory,
        "ledger": str(path.parent / "ledger.sqlite"),
    }))
    return path


def bridge(*args, timeout=300):
    return subprocess.run([str(BRIDGE), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_local_mode_dry_run_reads_status_through_the_master(runners, farm, radicale, tmp_path):
    url = radicale.make_calendar("alice", "boards-local")
    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    radicale.put(url + "a.ics", booking_ics("a", start, start + timedelta(hours=2), summary="jtk1 l4t-base"),
                 user="alice")
    config = write_config(tmp_path / "bridge.yaml", radicale, "boards-local",
                          {"mode": "local", "master_config": runners.config_file},
                          {"salt_minion": "site01"})
    before = radicale.get(url + "a.ics", user="alice")
    proc = bridge("--config", config, "sync", "--dry-run", "--now", "2026-11-24T01:00:00+01:00", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)["plan"]
    assert plan["switch"] == {"jtk1": {"image": "admin/l4t-base", "user": "alice",
                                       "start": "2026-11-24T09:00:00+00:00",
                                       "end": "2026-11-24T11:00:00+00:00"}}
    assert radicale.get(url + "a.ics", user="alice") == before  # a dry run changes nothing
    assert not (tmp_path / "ledger.sqlite").exists()

    check = bridge("--config", config, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok   salt (local): jetson.status lists 2 boards" in check.stdout
    assert f"ok   calendar {radicale.url}alice/boards-local/" in check.stdout

    listing = bridge("--config", config, "list", "--day", "2026-11-24", "--json")
    assert listing.returncode == 0, listing.stderr
    [item] = json.loads(listing.stdout)["bookings"]
    assert (item["verdict"], item["detail"]) == ("ok", "jtk1 admin/l4t-base for alice")


def test_local_mode_has_the_working_copies_of_bookings_made_ahead(runners, farm):
    layout = seed_store(farm.pillar["sites"]["site01"]["root"])  # alice/cuda-dev, bob/private
    template = layout.image_path("admin/l4t-base")  # shared: true in make_pillar
    os.makedirs(os.path.join(template, "etc"))
    with open(os.path.join(template, "etc", "os-release"), "w") as handle:
        handle.write("NAME=L4T\n")
    salt = LocalSalt(runners.config_file, timeout=300)
    try:
        answer = salt.copies([{"template": "admin/l4t-base", "user": "alice", "board": "jtk1"},
                              {"template": "bob/private", "user": "alice", "board": "jtk2"},
                              {"template": "admin/l4t-base", "user": "carol", "board": "jtk2"}])
        again = salt.copies([{"template": "admin/l4t-base", "user": "alice", "board": "jtk1"}])
    finally:
        salt.close()
    made = answer["done"]["alice/l4t-base"]
    assert (made["made"], made["template"], made["method"]) == (True, "admin/l4t-base", "copy")  # ext4
    assert manifest(layout.image_path("alice/l4t-base")) == manifest(template)
    assert "bob/private is not a template for alice" in answer["failed"]["alice/private"]
    assert "unknown user 'carol'" in answer["failed"]["carol/l4t-base"]
    assert again["done"]["alice/l4t-base"]["made"] is False


def test_a_synced_booking_keeps_its_image_from_removal_until_it_is_deleted(runners, farm, radicale,
                                                                          tmp_path):
    layout = seed_store(farm.pillar["sites"]["site01"]["root"])  # alice/cuda-dev, bob/private
    url = radicale.make_calendar("alice", "boards-booked")
    # Days ahead: read (lookahead 7 days), past tonight's horizon so nothing is switched, and not
    # ended by the site's own clock.
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    radicale.put(url + "b.ics", booking_ics("b", start, start + timedelta(hours=3), summary="jtk1 cuda-dev"),
                 user="alice")
    config = write_config(tmp_path / "bridge.yaml", radicale, "boards-booked",
                          {"mode": "local", "master_config": runners.config_file}, {"salt_minion": "site01"})

    proc = bridge("--config", config, "sync", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["plan"]["switch"] == {} and report["errors"] == []
    assert report["sites_told"] == {"site01": {"bookings": 1, "changed": True}}
    refused = farm.salt("jetson_rootfs.remove", "alice/cuda-dev")
    assert refused.returncode != 0
    assert (f"image alice/cuda-dev is booked by alice on board jtk1 from {start.isoformat()} to "
            f"{(start + timedelta(hours=3)).isoformat()}") in str(refused.data)
    assert os.path.isdir(layout.image_path("alice/cuda-dev"))

    radicale.delete(url + "b.ics", user="alice")
    proc = bridge("--config", config, "sync", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["sites_told"] == {"site01": {"bookings": 0, "changed": True}}
    removed = farm.salt("jetson_rootfs.remove", "alice/cuda-dev")
    assert removed.returncode == 0 and removed.data["removed"] is True, removed
    assert not os.path.exists(layout.image_path("alice/cuda-dev"))


def test_set_bookings_refuses_a_bad_booking_and_pushes_nothing(runners, farm):
    layout = seed_store(farm.pillar["sites"]["site01"]["root"])
    run = runners.salt_run_cli(timeout=120).run
    good = {"image": "bob/private", "board": "jtk2", "user": "bob",
            "start": "2099-01-01T09:00:00+00:00", "end": "2099-01-01T10:00:00+00:00"}
    ret = run("jetson.set_bookings", f"bookings={json.dumps([good])}")
    assert ret.returncode == 0 and ret.data["sites"] == {"site01": {"bookings": 1, "changed": True}}, ret
    ret = run("jetson.set_bookings", f"bookings={json.dumps([good, dict(good, board='jtk9')])}")
    assert ret.returncode != 0
    assert "invalid bookings, none pushed: bookings[1]: unknown board 'jtk9'" in ret.data["error"]
    refused = farm.salt("jetson_rootfs.remove", "bob/private")
    assert refused.returncode != 0 and "is booked by bob on board jtk2" in str(refused.data)  # still held
    assert os.path.isdir(layout.image_path("bob/private"))
    ret = run("jetson.set_bookings", "bookings=[]")
    assert ret.returncode == 0 and ret.data["sites"]["site01"]["bookings"] == 0


def test_bad_config_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "bridge.yaml"
    path.write_text("caldav: {url: 'http://127.0.0.1:1/'}\ncalendar_template: '{user}/b/'\n"
                    "inventory: {pillar_file: /nonexistent}\nsalt: {mode: api}\n")
    proc = bridge("--config", path, "sync")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [  # every problem at once, one a line
        f"calendar-bridge: {path}: salt.url: required with salt.mode api",
        f"{path}: salt.username: required with salt.mode api"]


# -- salt-api -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(salt_factories, tmp_path_factory):
    """A master with salt-api (rest_cherrypy) whose eauth user ``bridge`` is narrowly allowed.

    Its own master: eauth must be in the master's config, and the session master has none.
    """
    pillar_dir = tmp_path_factory.mktemp("api-pillar")
    farm = tmp_path_factory.mktemp("api-farm")
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - jetson\n")
    (pillar_dir / "jetson.sls").write_text(json.dumps({"jetson": make_pillar(farm)}))
    port = free_port()
    overrides = {
        "file_roots": {"base": [str(SALT_DIR), str(SALT_DIR / "states")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "sharedsecret": SECRET,
        "external_auth": {"sharedsecret": {"bridge": [{"@runner": [
            {"state.orch": {"args": [r"jetson\..*"]}}, "jetson.status", "jetson.working_copies",
            "jetson.set_bookings", "jobs.lookup_jid"]}]}},
        "rest_cherrypy": {"host": "127.0.0.1", "port": port, "disable_ssl": True},
        "netapi_enable_clients": ["runner", "runner_async"],
    }
    master = salt_factories.salt_master_daemon("bridge-api-master", overrides=overrides)
    with master.started():
        with master.salt_api_daemon().started():
            yield f"http://127.0.0.1:{port}"


def test_api_status_and_orchestration(api):
    salt = ApiSalt(api, "bridge", SECRET, "sharedsecret", timeout=300)
    status = salt.status()
    assert sorted(status) == ["jtk1", "jtk2"]
    assert set(status["jtk1"]) >= {"image", "owner", "user", "state", "since", "session"}
    # No site minion answers this master: the orchestration runs and fails, and says so.
    result = salt.release(["jtk1"])
    assert result["jid"] and result["success"] is False
    copies = salt.copies([{"template": "admin/l4t-base", "user": "alice", "board": "jtk1"}])
    assert copies["done"] == {} and "site01" in copies["failed"]["alice/l4t-base"]
    pushed = salt.set_bookings([{"image": "alice/cuda-dev", "board": "jtk1", "user": "alice",
                                 "start": "2099-01-01T09:00:00+00:00", "end": "2099-01-01T10:00:00+00:00"}])
    assert pushed["sites"] == {} and "got no answer" in pushed["failed"]["site01"]  # reported, not raised


def test_api_eauth_limits_the_bridge_user(api):
    session = requests.Session()
    login = session.post(f"{api}/login", json={"username": "bridge", "password": SECRET,
                                               "eauth": "sharedsecret"}, timeout=30)
    token = {"X-Auth-Token": login.json()["return"][0]["token"]}
    for low in ({"client": "runner", "fun": "jetson.check"},
                {"client": "runner_async", "fun": "state.orch", "arg": ["other.sls"], "kwarg": {}}):
        answer = session.post(f"{api}/", json=[low], headers=token, timeout=30)
        assert answer.status_code in (401, 403), (low, answer.text[:300])
    with pytest.raises(SaltError, match="login as 'bridge' refused"):
        ApiSalt(api, "bridge", "wrong", "sharedsecret").status()
