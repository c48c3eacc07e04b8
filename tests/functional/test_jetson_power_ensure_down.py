"""jetson_power.ensure_down (switch step 2): the real jetson_nfs.wait_idle, a real PDU, a real address.

The board stand-in is an address in a network namespace of our own (jetson_lab.veth_ns): it
answers ping while its PDU outlet is on, because the PDU's state change takes the namespace's
link up or down. So "the board is up" is what wait_idle really sees: a ping answer.
"""

import ipaddress
import subprocess

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_lab.pdu import VirtualPdu
from jetson_lab.veth_ns import VethNamespace
from tests.conftest import make_pillar


@pytest.fixture
def segment():
    with VethNamespace() as segment:
        for ip in board_ips(segment)[1:]:
            subprocess.run(segment.run(["ip", "addr", "add", f"{ip}/{segment.network.prefixlen}", "dev",
                                        segment.ns_if]), check=True, timeout=10)
        yield segment


@pytest.fixture
def pdu(segment):
    def follow_outlet_one(outlet, power):
        if outlet == "1":
            segment.set_up(power == "on")

    with VirtualPdu(outlets=("1", "3"), on_change=follow_outlet_one) as pdu:
        yield pdu


def board_ips(segment):
    """The namespace's address and two more on its link: each board answers ping at its own."""
    first = ipaddress.IPv4Address(segment.ns_ip)
    return [segment.ns_ip, str(first + 1), str(first + 2)]


@pytest.fixture
def pillar(farm_dir, pdu, segment):
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    pillar["sites"]["site01"]["nfs"]["network"] = str(segment.network)
    for board, ip in zip(("jtk1", "jtk2", "jtk3"), board_ips(segment), strict=True):
        pillar["boards"][board]["ip"] = ip  # one address each (rule 7), all behind the one link
    pillar["boards"]["jtk1"]["power"] = {"driver": "http", "on": pdu.url(1, "on"), "off": pdu.url(1, "off")}
    pillar["boards"]["jtk2"]["power"] = {"driver": "salt"}
    # Outlet 3 feeds nothing: cutting it leaves the stand-in up, like a mis-wired PDU.
    pillar["boards"]["jtk3"]["power"] = {"driver": "http", "off": pdu.url(3, "off")}
    return pillar


def test_a_board_already_down_is_left_alone(modules, pdu):
    modules.jetson_power.off("jtk1")
    pdu.requests.clear()
    report = modules.jetson_power.ensure_down("jtk1", timeout=5)
    assert report["down"] is True and report["escalated"] is False and report["did"] is None
    assert report["powered_off"] is False and report["held"] is None
    assert pdu.requests == []


def test_a_board_still_up_is_powered_off_then_found_down(modules, pdu, segment):
    report = modules.jetson_power.ensure_down("jtk1", timeout=2)
    assert report["escalated"] is True and report["did"] == "off" and report["powered_off"] is True
    assert f"it answers ping at {segment.ns_ip}" in report["held"]
    assert pdu.requests == [("GET", "/outlet/1/off")]
    assert pdu.power(1) == "off"


def test_no_hard_power_fails_naming_what_held_and_touches_nothing(modules, pdu, segment):
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.ensure_down("jtk2", timeout=1)
    message = str(err.value)
    assert message.startswith("board jtk2, power driver salt: the board is still up after 1s and this "
                              "driver has no hard power, so nothing was touched: ")
    assert f"it answers ping at {board_ips(segment)[1]}" in message
    assert pdu.requests == [] and pdu.power(1) == "on"


def test_a_board_that_stays_up_after_the_hard_off_fails_clearly(modules, pdu, segment):
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.ensure_down("jtk3", timeout=1)
    message = str(err.value)
    assert message.startswith("board jtk3, power driver http: the board is still up 1s after a hard off ")
    assert f"it answers ping at {board_ips(segment)[2]}" in message
    assert pdu.requests == [("GET", "/outlet/3/off")]


def test_a_pdu_failing_during_the_escalation_is_a_clear_error(modules, pdu):
    pdu.set_fault("error")
    with pytest.raises(CommandExecutionError, match=r"board jtk1, power driver http: off failed: "
                                                    r"http://127.0.0.1:\d+/outlet/1/off answered 500"):
        modules.jetson_power.ensure_down("jtk1", timeout=1)


def test_a_bad_timeout_is_refused(modules, pdu):
    with pytest.raises(SaltInvocationError, match=r"timeout: -1 must be a positive number of seconds"):
        modules.jetson_power.ensure_down("jtk1", timeout=-1)
    assert pdu.requests == []
