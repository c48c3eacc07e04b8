"""jetson_power through a real salt-master and site minion, against a real HTTP PDU on loopback."""

import pytest

from jetson_lab.pdu import VirtualPdu


@pytest.fixture
def pdu():
    with VirtualPdu(outlets=("1", "2"), initial="off") as pdu:
        yield pdu


@pytest.fixture
def powered_farm(farm, pdu):
    farm.pillar["boards"]["jtk1"]["power"] = {
        "driver": "http", "on": pdu.url(1, "on"), "off": pdu.url(1, "off"), "status": pdu.url(1, "status")}
    farm.pillar["boards"]["jtk2"]["power"] = {"driver": "http", "cycle": pdu.url(2, "cycle")}
    farm.apply_pillar()
    return farm


def test_power_on_and_off_through_the_master(powered_farm, pdu):
    ret = powered_farm.salt("jetson_power.on", "jtk1")
    assert ret.returncode == 0, ret
    assert ret.data == {"board": "jtk1", "driver": "http", "action": "on", "did": "on", "power": "on"}
    assert pdu.power(1) == "on"
    ret = powered_farm.salt("jetson_power.status", "jtk1")
    assert ret.returncode == 0 and ret.data["power"] == "on", ret
    ret = powered_farm.salt("jetson_power.off", "jtk1")
    assert ret.returncode == 0 and pdu.power(1) == "off", ret


def test_capabilities_through_the_master(powered_farm):
    ret = powered_farm.salt("jetson_power.capabilities", "jtk2")
    assert ret.returncode == 0, ret
    assert ret.data == {"board": "jtk2", "driver": "http", "actions": ["cycle"], "hard_power": True,
                        "reboot": None, "minion": "jtk2"}


def test_bad_input_fails_with_a_clear_message_and_sends_nothing(powered_farm, pdu):
    ret = powered_farm.salt("jetson_power.off", "jtk9")
    assert ret.returncode != 0
    assert "unknown board 'jtk9': it is not in the jetson pillar" in str(ret.data), ret
    ret = powered_farm.salt("jetson_power.off", "jtk2")
    assert ret.returncode != 0
    assert "board jtk2, power driver http: off is not possible: no 'off' URL in boards.jtk2.power" in str(
        ret.data), ret
    assert pdu.requests == []


def test_an_unknown_driver_is_refused_with_the_inventory_rule(farm):
    farm.pillar["boards"]["jtk1"]["power"] = {"driver": "telnet"}
    farm.apply_pillar()
    ret = farm.call("jetson_power.status", "jtk2")
    assert ret.returncode != 0
    assert ("boards.jtk1.power.driver: 'telnet' is not one of ('salt', 'ssh', 'wol', 'http', 'ipmi', 'lab')"
            in str(ret.data) + ret.stdout + ret.stderr), ret
