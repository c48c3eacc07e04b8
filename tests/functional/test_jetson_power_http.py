"""jetson_power with the http driver, through Salt's loader, against a real HTTP PDU on loopback."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_lab.pdu import VirtualPdu
from tests.conftest import make_pillar


@pytest.fixture
def pdu():
    with VirtualPdu(outlets=("1", "2", "3"), initial="off") as pdu:
        yield pdu


@pytest.fixture
def pillar(farm_dir, pdu):
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    pillar["boards"]["jtk1"]["power"] = {
        "driver": "http", "on": pdu.url(1, "on"), "off": pdu.url(1, "off"), "cycle": pdu.url(1, "cycle"),
        "status": pdu.url(1, "status"), "timeout": 2}
    # A relay with only on and off: the driver makes a cycle of them.
    pillar["boards"]["jtk2"]["power"] = {
        "driver": "http", "on": pdu.url(2, "on"), "off": pdu.url(2, "off"), "method": "POST",
        "cycle_delay": 0.1}
    # As in docs/architecture.md, "The inventory": a PDU with a cycle URL only.
    pillar["boards"]["jtk3"]["power"] = {"driver": "http", "cycle": pdu.url(3, "cycle")}
    return pillar


def test_on_off_status_follow_the_pdu(modules, pdu):
    power = modules.jetson_power
    assert power.status("jtk1")["power"] == "off"
    assert power.on("jtk1") == {"board": "jtk1", "driver": "http", "action": "on", "did": "on", "power": "on"}
    assert pdu.power(1) == "on"
    assert power.status("jtk1")["power"] == "on"
    assert power.off("jtk1")["power"] == "off"
    assert pdu.power(1) == "off"
    assert pdu.requests == [("GET", "/outlet/1/status"), ("GET", "/outlet/1/on"), ("GET", "/outlet/1/status"),
                            ("GET", "/outlet/1/off")]


def test_cycle_uses_the_cycle_url(modules, pdu):
    modules.jetson_power.on("jtk1")
    pdu.requests.clear()
    changes = []
    pdu.on_change = lambda outlet, power: changes.append((outlet, power))
    assert modules.jetson_power.cycle("jtk1")["did"] == "cycle"
    assert pdu.requests == [("GET", "/outlet/1/cycle")]
    assert changes == [("1", "off"), ("1", "on")]


def test_cycle_without_a_cycle_url_is_off_then_on(modules, pdu):
    pdu.on_change = None
    modules.jetson_power.on("jtk2")
    assert modules.jetson_power.cycle("jtk2")["power"] == "on"
    assert pdu.requests == [("POST", "/outlet/2/on"), ("POST", "/outlet/2/off"), ("POST", "/outlet/2/on")]
    assert pdu.power(2) == "on"


def test_reboot_through_a_relay_cuts_the_power(modules, pdu):
    modules.jetson_power.on("jtk1")
    assert modules.jetson_power.reboot("jtk1")["did"] == "off"
    assert pdu.power(1) == "off"


def test_capabilities_follow_the_urls(modules):
    caps = modules.jetson_power.capabilities("jtk1")
    assert caps == {"board": "jtk1", "driver": "http", "actions": ["cycle", "off", "on", "reboot", "status"],
                    "hard_power": True, "reboot": "off", "minion": "jtk1"}
    caps = modules.jetson_power.capabilities("jtk3")
    assert caps["actions"] == ["cycle"] and caps["hard_power"] is True and caps["reboot"] is None


def test_missing_url_is_a_clear_error_and_nothing_is_sent(modules, pdu):
    with pytest.raises(CommandExecutionError, match=r"board jtk3, power driver http: off is not possible: "
                                                    r"no 'off' URL in boards.jtk3.power"):
        modules.jetson_power.off("jtk3")
    assert modules.jetson_power.status("jtk3")["power"] == "unknown"
    assert pdu.requests == []


def test_a_pdu_answering_500_is_a_clear_error(modules, pdu):
    pdu.set_fault("error")
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.on("jtk1")
    assert str(err.value) == (f"board jtk1, power driver http: on failed: {pdu.url(1, 'on')} "
                              "answered 500 Internal Server Error")


def test_a_pdu_that_hangs_times_out_with_a_clear_error(loaders, pillar, pdu):
    pillar["boards"]["jtk1"]["power"]["timeout"] = 1
    loaders.set_pillar(pillar)
    pdu.set_fault("hang")
    with pytest.raises(CommandExecutionError) as err:
        loaders.modules.jetson_power.off("jtk1")
    assert str(err.value) == (f"board jtk1, power driver http: off failed: {pdu.url(1, 'off')} "
                              "did not answer within 1s")


def test_unknown_board_is_a_clear_error(modules, pdu):
    with pytest.raises(CommandExecutionError, match=r"unknown board 'jtk9': it is not in the jetson pillar"):
        modules.jetson_power.on("jtk9")
    with pytest.raises(SaltInvocationError, match=r"invalid board name 'JTK/1'"):
        modules.jetson_power.on("JTK/1")
    assert pdu.requests == []


def test_power_many_reports_each_board_and_unknown_where_the_pdu_cannot_tell(modules, pdu):
    power = modules.jetson_power
    power.on("jtk1")
    report = power.power_many(["jtk1", "jtk2", "jtk3", "jtk9"])
    assert report["done"] == {"jtk1": {"power": "on"}, "jtk2": {"power": "unknown"},
                              "jtk3": {"power": "unknown"}}
    assert list(report["failed"]) == ["jtk9"] and "jtk9" in report["failed"]["jtk9"]
    power.off("jtk1")
    assert power.power_many(["jtk1"])["done"] == {"jtk1": {"power": "off"}}
    with pytest.raises(SaltInvocationError, match="boards must be a non-empty list"):
        power.power_many([])
