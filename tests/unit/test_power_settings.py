"""Reading a board's ``power`` mapping into a driver: defaults, and every mistake named."""

import pytest

from jetson_farm.inventory import Board, Inventory
from jetson_farm.power import PowerConfigError, Unsupported, capabilities, driver_for, power_problems
from jetson_farm.power.drivers.http import read_state
from jetson_farm.power.drivers.wol import directed_broadcast, magic_packet
from jetson_farm.power.registry import power_shows_down
from jetson_farm.power.spec import safe_url
from jetson_lab.wol_listener import mac_of_magic_packet
from tests.conftest import make_pillar

ROOT = "/srv/jetson"


def board(power, **fields):
    values = {"name": "jtk1", "site": "site01", "minion": "jtk1", "ip": "192.168.137.131",
              "nfsroot": "/NFSRoot1", "mac": "00:04:4b:00:00:01", "netmask": "255.255.255.0"}
    values.update(fields)
    return Board(power=power, **values)


def problems(power, **fields):
    with pytest.raises(PowerConfigError) as err:
        driver_for(board(power, **fields), ROOT)
    return err.value.problems


def test_the_inventory_refuses_an_unknown_driver(farm_dir):
    pillar = make_pillar(farm_dir)
    pillar["boards"]["jtk1"]["power"] = {"driver": "telnet"}
    assert ("boards.jtk1.power.driver: 'telnet' is not one of ('salt', 'ssh', 'wol', 'http', 'ipmi', 'lab')"
            in Inventory(pillar).problems())
    pillar["boards"]["jtk1"]["power"] = {"driver": "ipmy"}
    assert ("boards.jtk1.power.driver: 'ipmy' is not one of ('salt', 'ssh', 'wol', 'http', 'ipmi', 'lab') "
            "(did you mean 'ipmi'?)" in Inventory(pillar).problems())


def test_the_registry_names_an_unknown_driver_too():
    assert problems({"driver": "telnet"}) == [
        "boards.jtk1.power.driver: 'telnet' is not one of ('salt', 'ssh', 'wol', 'http', 'ipmi', 'lab')"]
    assert problems({"hots": "bmc1"}) == ["boards.jtk1.power.driver: required"]
    assert problems({"driver": ["ipmi"]})[0].startswith("boards.jtk1.power.driver: ['ipmi'] is not one of")


def test_board_power_is_merged_over_the_defaults(farm_dir):
    pillar = make_pillar(farm_dir)
    pillar["defaults"]["power"] = {"driver": "http", "timeout": 3}
    pillar["boards"]["jtk1"]["power"] = {"cycle": "http://pdu1.lab/cm?cmnd=Power1%20Cycle"}
    pillar["boards"]["jtk2"]["power"] = {"off": "http://pdu1.lab/cm?cmnd=Power2%20Off"}
    entry = Inventory.load(pillar).board("jtk1")
    driver = driver_for(entry, ROOT)
    assert driver.device.timeout == 3 and driver.device.cycle.endswith("Power1%20Cycle")
    assert sorted(driver.actions) == ["cycle"]


def test_a_typo_in_a_key_is_named():
    assert problems({"driver": "http", "cycel": "http://pdu/cycle"}) == [
        "boards.jtk1.power.cycel: unknown key (did you mean 'cycle'?)",
        "boards.jtk1.power: driver http needs at least one of the URLs on, off, cycle"]


def test_http_needs_a_url_and_only_http_urls():
    assert problems({"driver": "http"}) == [
        "boards.jtk1.power: driver http needs at least one of the URLs on, off, cycle"]
    assert problems({"driver": "http", "on": "ftp://pdu/on", "timeout": 0}) == [
        "boards.jtk1.power.on: 'ftp://pdu/on' is not an http:// or https:// URL",
        "boards.jtk1.power.timeout: 0 must be a number of seconds between 0 and 3600"]


def test_a_password_in_a_url_never_reaches_a_message():
    assert safe_url("http://admin:s3cret@pdu1.lab:8080/off?x=1") == "http://pdu1.lab:8080/off?x=1"
    found = problems({"driver": "http", "on": "gopher://admin:s3cret@pdu1.lab/on"})
    assert "s3cret" not in " ".join(found)


def test_ipmi_wants_exactly_one_password_source_and_never_the_password():
    assert problems({"driver": "ipmi", "host": "bmc1", "user": "admin"}) == [
        "boards.jtk1.power: driver ipmi needs exactly one of password_file, password_env "
        "(never the password itself)"]
    found = problems({"driver": "ipmi", "host": "bmc1", "user": "admin", "password": "x",
                      "password_file": "relative/file"})
    assert found == [
        "boards.jtk1.power.password_file: 'relative/file' must be an absolute path",
        "boards.jtk1.power.password: not allowed: never the password itself (boards are untrusted minions); "
        "use password_file or password_env"]
    assert problems({"driver": "ipmi", "password_env": "BMC PASS"}) == [
        "boards.jtk1.power.host: required",
        "boards.jtk1.power.user: required",
        "boards.jtk1.power.password_env: 'BMC PASS' is not an environment variable name"]
    assert problems({"driver": "ipmi", "user": "", "hots": "bmc1"}) == [
        "boards.jtk1.power.host: required",
        "boards.jtk1.power.user: '' is not a BMC user name",
        "boards.jtk1.power.hots: unknown key (did you mean 'host'?)",
        "boards.jtk1.power: driver ipmi needs exactly one of password_file, password_env "
        "(never the password itself)"]


def test_ipmi_command_line():
    driver = driver_for(board({"driver": "ipmi", "host": "bmc1.lab", "user": "admin",
                               "password_file": "/etc/jetson/bmc1"}), ROOT)
    assert driver.argv("reboot") == [
        "ipmitool", "-I", "lanplus", "-H", "bmc1.lab", "-p", "623", "-U", "admin", "-N", "5", "-R", "2",
        "-C", "3", "-f", "/etc/jetson/bmc1", "chassis", "power", "soft"]


def test_ssh_defaults_live_under_the_site_root():
    driver = driver_for(board({"driver": "ssh"}), ROOT)
    assert driver.argv() == [
        "ssh", "-F", "none", "-i", "/srv/jetson/power/id_ed25519", "-p", "22", "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=15", "-o", "StrictHostKeyChecking=accept-new",
        "-o", "UserKnownHostsFile=/srv/jetson/power/known_hosts", "-o", "ServerAliveInterval=5",
        "-o", "ServerAliveCountMax=2", "-l", "root", "--", "192.168.137.131", "reboot"]
    assert problems({"driver": "ssh", "user": "root; rm -rf /", "command": "halt"}) == [
        "boards.jtk1.power.user: 'root; rm -rf /' is not a user name",
        "boards.jtk1.power.command: 'halt' is not one of ('reboot', 'systemctl reboot', '/sbin/reboot')"]


def test_wol_packet_and_broadcast():
    packet = magic_packet("00:04:4b:00:00:01")
    assert len(packet) == 102 and packet[:6] == b"\xff" * 6 and packet[6:12] == bytes.fromhex("00044b000001")
    assert mac_of_magic_packet(packet) == "00:04:4b:00:00:01"
    assert mac_of_magic_packet(packet[:-1]) is None
    assert directed_broadcast("192.168.137.131", "255.255.255.0") == "192.168.137.255"
    driver = driver_for(board({"driver": "wol"}), ROOT)
    assert (driver.device.mac, driver.device.broadcast, driver.device.port) == (
        "00:04:4b:00:00:01", "192.168.137.255", 9)
    assert problems({"driver": "wol"}, mac="") == [
        "boards.jtk1.power.mac: required: driver wol needs the board's MAC (power.mac or the board's mac)"]


def test_lab_needs_its_socket():
    assert problems({"driver": "lab"}) == [
        "boards.jtk1.power.socket: required"]


@pytest.mark.parametrize(("answer", "state"), [
    ('{"POWER": "ON"}', "on"), ('{"POWER1":"OFF"}', "off"), ('{"power": "on", "outlet": "1"}', "on"),
    ("1\n", "on"), ("off", "off"), ("true", "on"), ('{"other": 1}', "unknown"), ("<html>", "unknown"),
])
def test_http_status_answers(answer, state):
    assert read_state(answer) == state


def test_capabilities_of_the_salt_driver():
    driver = driver_for(board({"driver": "salt"}), ROOT)
    assert capabilities(driver, minion="jtk1") == {
        "board": "jtk1", "driver": "salt", "actions": [], "hard_power": False, "reboot": "orchestration",
        "minion": "jtk1"}
    with pytest.raises(Unsupported, match=(
            r"board jtk1, power driver salt: reboot is not possible: it is done by the orchestration, "
            r"with system.reboot on the board's minion jtk1, not by the site server")):
        driver.reboot()


def test_power_problems_lists_without_raising():
    assert power_problems(board({"driver": "salt"})) == []
    assert power_problems(board({"driver": "salt", "hots": "x"})) == [
        "boards.jtk1.power.hots: unknown key (known keys: driver)"]


def test_settings_of_another_driver_inherited_from_the_defaults_are_ignored(farm_dir):
    pillar = make_pillar(farm_dir)
    pillar["defaults"]["power"] = {"driver": "lab", "socket": "/run/lab.sock", "timeout": 5}
    pillar["boards"]["jtk1"]["power"] = {"driver": "salt"}
    pillar["boards"]["jtk2"]["power"] = {"driver": "http", "off": "http://pdu/off"}
    inventory = Inventory.load(pillar)
    assert driver_for(inventory.board("jtk1"), ROOT).name == "salt"
    # timeout is http's too: it applies.
    assert driver_for(inventory.board("jtk2"), ROOT).device.timeout == 5


@pytest.mark.parametrize(("power", "tells"), [
    ({"driver": "lab", "socket": "/run/lab.sock"}, True),
    ({"driver": "ipmi", "host": "10.0.0.9", "user": "admin", "password_file": "/etc/bmc"}, True),
    ({"driver": "http", "on": "http://pdu/on", "status": "http://pdu/status"}, True),
    ({"driver": "http", "on": "http://pdu/on", "off": "http://pdu/off"}, True),  # step 1 cuts it
    ({"driver": "salt"}, False),
    ({"driver": "wol"}, False),
    ({"driver": "ssh", "host": "10.0.0.9"}, False),
    ({"driver": "telnet"}, False),
])
def test_the_switch_knows_which_drivers_show_a_board_down_by_its_power(power, tells):
    assert power_shows_down(board(power)) is tells
