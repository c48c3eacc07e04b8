"""Every config refuses bad input with every problem at once, each as ``path: message``.

``Inventory(pillar).problems()`` is what ``salt-run jetson.check`` returns; ``Inventory.load``
raises the same list; ``calendar_bridge.config.build`` is what ``calendar-bridge`` loads.
"""

import copy

import pytest
import yaml

from calendar_bridge import cli
from calendar_bridge.config import BridgeSchema, build
from calendar_bridge.errors import ConfigError
from jetson_farm.errors import InventoryError
from jetson_farm.inventory import POWER_DRIVERS, Inventory
from jetson_farm.inventory_schema import InventorySchema
from jetson_farm.power.registry import DRIVERS
from jetson_farm.schema import key_paths
from tests.conftest import make_pillar
from tests.inventory_cases import BROKEN_IPMI_PROBLEMS, broken_ipmi_pillar

HUGE = "x" * 1_000_000
SAMPLE_KEYS = {"<site>": "site01", "<board>": "jtk1", "<user>": "alice", "<user/name>": "admin/l4t-base"}
BRIDGE = {"caldav": {"url": "http://dav.example.org/", "username": "bridge"},
          "calendar_template": "{user}/boards/", "calendars": [{"url": "lab/shared/", "trust": "summary"}],
          "inventory": {"pillar_file": "/srv/pillar/jetson.yaml"}, "smtp": {"admins": ["oncall@example.org"]}}


def test_the_broken_ipmi_inventory_names_every_problem_with_its_path(tmp_path):
    pillar = broken_ipmi_pillar(tmp_path)
    assert Inventory(pillar).problems() == BROKEN_IPMI_PROBLEMS
    with pytest.raises(InventoryError) as err:
        Inventory.load(pillar)
    assert err.value.problems == BROKEN_IPMI_PROBLEMS
    assert str(err.value).startswith("invalid jetson inventory: boards.jtk3.down_timout: unknown key")


def test_one_driver_list_and_one_mac_rule():
    assert POWER_DRIVERS == tuple(DRIVERS)
    mac = {"driver": "wol", "mac": "00:04:4B:00:00:01\n"}
    assert Inventory({"boards": {"jtk1": {"site": "s", "ip": "10.0.0.1", "nfsroot": "/n", "mac": mac["mac"],
                                          "power": mac}}}).problems()[:2] == [
        "boards.jtk1.mac: '00:04:4b:00:00:01\\n' is not a MAC address",
        "boards.jtk1.power.mac: '00:04:4b:00:00:01\\n' is not a MAC address"]


def wrong_values(path):
    """Values that are wrong at ``path`` whatever it holds, and the ones wrong for its type."""
    values = [[{"x": 1}], HUGE]
    if not path.endswith("power"):
        values.append({"a": 1})
    if not path.endswith(("timeout", "quota_gb")):
        values.append(7)
    if not path.endswith(("admin", "shared", "enabled")):
        values.append(True)
    return values


@pytest.mark.parametrize("path", [*key_paths(InventorySchema), "boards.<board>.power.socket"])
def test_a_value_of_the_wrong_type_is_refused_with_its_path(tmp_path, path):
    parts = [SAMPLE_KEYS.get(part, part) for part in path.split(".")]
    where = ".".join(parts)
    for value in wrong_values(path):
        pillar = make_pillar(tmp_path)
        node = pillar
        for key in parts[:-1]:
            node = node.setdefault(key, {})
        node[parts[-1]] = value
        problems = Inventory(pillar).problems()
        assert any(p.startswith(where) for p in problems), (value if value is not HUGE else "HUGE", problems)
        assert all(len(p) < 400 for p in problems), "a message repeats a huge value"


@pytest.mark.parametrize("section", ["sites", "boards", "users", "images", "defaults"])
def test_a_section_of_the_wrong_shape_is_refused(tmp_path, section):
    for value in (["x"], "x", 7):
        pillar = make_pillar(tmp_path)
        pillar[section] = value
        assert any(p.startswith(f"{section}: must be a mapping") for p in Inventory(pillar).problems())
    pillar = make_pillar(tmp_path)
    pillar[section] = {7: {}, HUGE: {}} if section != "defaults" else {"image": 7}
    problems = Inventory(pillar).problems()
    assert problems and all(len(p) < 400 for p in problems)


def test_names_that_are_not_strings_are_refused(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["boards"][7] = copy.deepcopy(pillar["boards"]["jtk1"])
    pillar["users"][("a", "b")] = {}
    problems = Inventory(pillar).problems()
    assert "boards.7: must be a board name, not a number" in problems
    assert "users.('a', 'b'): must be a user name, not tuple" in problems


def test_a_mistake_inherited_from_the_defaults_is_put_where_it_is(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["defaults"]["power"] = {"driver": "http", "timeout": 0, "on": "http://pdu/on", "sokcet": "/x"}
    pillar["boards"]["jtk2"]["power"] = {"timeout": 5}
    assert Inventory(pillar).problems() == [
        "defaults.power.sokcet: unknown key (did you mean 'socket'?)",
        "defaults.power.timeout: 0 must be a number of seconds between 0 and 3600 (inherited by boards.jtk1)"]


def test_rules_across_entries_still_hold_for_a_board_with_another_mistake(tmp_path):
    pillar = make_pillar(tmp_path, boards=("jtk1", "jtk2", "jtk3"))
    pillar["boards"]["jtk2"].update(nfsroot=pillar["boards"]["jtk1"]["nfsroot"], ip="no",
                                    mac=pillar["boards"]["jtk1"]["mac"].upper(), image="carol/x")
    pillar["boards"]["jtk3"].update(minion="jtk1", site="nowhere")
    pillar["images"]["admin/l4t-base"]["shared"] = ["alice", "dave"]
    problems = Inventory(pillar).problems()
    for expected in ("boards.jtk2.ip: 'no' is not an IPv4 address",
                     "boards.jtk3.site: 'nowhere' is not a site of this inventory",
                     f"boards.jtk2.nfsroot: {tmp_path}/NFSRoot1 is also boards.jtk1's",
                     "boards.jtk2.mac: 00:04:4b:00:00:01 is also boards.jtk1's",
                     "boards.jtk2.image: 'carol/x' belongs to 'carol', who is not a user of this inventory",
                     "boards.jtk3.minion: jtk1 is also boards.jtk1's",
                     "images.admin/l4t-base.shared[1]: 'dave' is not a user of this inventory"):
        assert expected in problems


def test_the_bridge_config_names_every_problem_at_once():
    raw = copy.deepcopy(BRIDGE)
    raw["lookahed"] = "7d"
    raw["caldav"]["password"] = "hunter2"
    raw["caldav"]["timeout"] = "30"
    raw["calendars"].append({"url": "http://evil.example.org/x/"})
    raw["salt"] = {"mode": "api"}
    raw["smtp"]["admins"] = ["oncall@example.org", 7]
    with pytest.raises(ConfigError) as err:
        build(raw)
    assert str(err.value).splitlines() == [
        "caldav.timeout: '30' must be an integer >= 1",
        "caldav.password: secrets may not be written in the config; use password_file or password_env",
        "smtp.admins: item 1: must be an email address, not a number",
        "lookahed: unknown key (did you mean 'lookahead'?)",
        "calendars[1].url: 'http://evil.example.org/x/' is not on the CalDAV server http://dav.example.org/",
        "calendars[1].owner: required under trust: owner (the user who books in it)",
        "salt.url: required with salt.mode api",
        "salt.username: required with salt.mode api",
    ]
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("path", key_paths(BridgeSchema))
def test_a_bridge_value_of_the_wrong_type_is_refused_with_its_path(path):
    parts = path.replace("[]", ".0").split(".")
    for value in ([1], {"a": 1}, 7, HUGE):
        raw = copy.deepcopy(BRIDGE)
        node = raw
        for key in parts[:-1]:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[parts[-1]] = value
        if value == 7 and path.endswith(("timeout", "port", "max_occurrences", "max_event_bytes", "lead_time",
                                         "lookahead")):
            continue  # a number is right there
        with pytest.raises(ConfigError) as err:
            build(raw)
        lines = str(err.value).splitlines()
        assert any(line.startswith(path.replace("[]", "[0]")) for line in lines), (value, lines)
        assert all(len(line) < 400 for line in lines)


def test_calendar_bridge_check_names_every_problem(tmp_path, capsys):
    (tmp_path / "jetson.yaml").write_text(yaml.safe_dump({"jetson": broken_ipmi_pillar(tmp_path)}))
    config = {"caldav": {"url": "http://127.0.0.1:9/"}, "calendar_template": "{user}/boards/",
              "inventory": {"pillar_file": str(tmp_path / "jetson.yaml")},
              "salt": {"master_config": str(tmp_path / "no-master")}}
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(config))
    assert cli.main(["--config", str(tmp_path / "bridge.yaml"), "check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL inventory: " in out
    for problem in BROKEN_IPMI_PROBLEMS:
        assert problem in out
    config["lookahed"] = config.pop("calendar_template")
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(config))
    assert cli.main(["--config", str(tmp_path / "bridge.yaml"), "check"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"calendar-bridge: {tmp_path}/bridge.yaml: lookahed: unknown key (did you mean 'lookahead'?)",
        f"{tmp_path}/bridge.yaml: calendars: give a list of calendars or a calendar_template, or both"]
