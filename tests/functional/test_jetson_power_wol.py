"""jetson_power with the wol driver: a real broadcast on a veth of our own, heard inside a netns.

The board's address is in the namespace, so the driver's default broadcast (the board's subnet)
is that segment's: the packet never leaves the two ends of the veth pair.
"""

import json
import subprocess
import sys

import pytest
from salt.exceptions import CommandExecutionError

from jetson_lab.veth_ns import VethNamespace
from tests.conftest import make_pillar

LISTEN_SECONDS = 60


@pytest.fixture
def segment():
    with VethNamespace() as segment:
        yield segment


@pytest.fixture
def listener(segment, farm_dir):
    """A magic-packet listener on UDP port 9 inside the namespace; yields the file it writes."""
    out = farm_dir / "packets.jsonl"
    process = subprocess.Popen(
        segment.run([sys.executable, "-m", "jetson_lab.wol_listener", "--port", "9", "--out", str(out),
                     "--timeout", str(LISTEN_SECONDS)]),
        stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield process, out
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def pillar(farm_dir, segment, request):
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    pillar["sites"]["site01"]["nfs"]["network"] = "0.0.0.0/0"  # boards on loopback and on the segment
    pillar["boards"]["jtk1"].update(ip=segment.ns_ip, power={"driver": "wol"})
    pillar["boards"]["jtk2"].update(ip=str(segment.network.network_address + 3), power={
        "driver": "wol", "mac": "02:00:00:aa:bb:cc", "broadcast": segment.broadcast, "port": 9,
        "interface": segment.host_if})
    # Parametrised: jtk3's power mac (a bad one refuses the whole inventory).
    mac = getattr(request, "param", "02:00:00:aa:bb:cd")
    pillar["boards"]["jtk3"]["power"] = {"driver": "wol", "mac": mac}
    return pillar


def packets(process, out):
    process.wait(timeout=LISTEN_SECONDS + 10)  # it exits after one datagram
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_on_sends_the_magic_packet_for_the_boards_mac(modules, listener, segment):
    report = modules.jetson_power.on("jtk1")
    assert report == {"board": "jtk1", "driver": "wol", "action": "on", "did": "on", "power": "unknown"}
    assert packets(*listener) == [{"from": segment.host_ip, "size": 102, "mac": "00:04:4b:00:00:01"}]


def test_explicit_mac_broadcast_and_interface(modules, listener, segment):
    modules.jetson_power.on("jtk2")
    assert packets(*listener) == [{"from": segment.host_ip, "size": 102, "mac": "02:00:00:aa:bb:cc"}]


def test_wol_cannot_power_off(modules):
    with pytest.raises(CommandExecutionError, match=(
            r"board jtk1, power driver wol: off is not possible: this driver has no hard power off")):
        modules.jetson_power.off("jtk1")
    caps = modules.jetson_power.capabilities("jtk1")
    assert caps["actions"] == ["on"] and caps["hard_power"] is False and caps["reboot"] is None


@pytest.mark.parametrize("pillar", ["00:04:4b:00:00"], indirect=True)
def test_a_bad_mac_is_a_clear_error(modules):
    with pytest.raises(CommandExecutionError, match=(
            r"invalid jetson inventory: boards.jtk3.power.mac: '00:04:4b:00:00' is not a MAC address")):
        modules.jetson_power.on("jtk3")
