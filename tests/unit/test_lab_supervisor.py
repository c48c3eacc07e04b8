"""The lab's names, the supervisor's request handling and the client's errors (no boards powered)."""

import socket
import struct
import threading

import pytest

from jetson_farm.errors import NotFound
from jetson_lab import client, network, nfs_session
from jetson_lab.config import LabConfig
from jetson_lab.errors import LabError, LabUnavailable
from jetson_lab.supervisor import Supervisor, _listen


@pytest.fixture
def config(tmp_path):
    config = LabConfig(name="unit", dir=str(tmp_path), boards=["jtk1", "jtk2"], tag="beef", subnet_octet=77)
    config.write()
    return config


def test_names_fit_the_kernel_limit_and_differ_between_labs():
    one = network.LabNetwork(network.lab_tag("/var/lib/jetson-lab/demo"), 40)
    two = network.LabNetwork(network.lab_tag("/var/tmp/jetson-lab-tests/ab12cd34"), 41)
    for net in (one, two):
        for name in (net.bridge, net.veth_host(32), net.veth_board(32)):
            assert len(name) <= 15, name
    assert one.bridge != two.bridge and one.netns("jtk1") != two.netns("jtk1")
    assert one.bridge_addr == "10.213.40.1" and one.board_addr(3) == "10.213.40.13"


def test_lab_config_round_trips_and_a_missing_lab_is_named(config, tmp_path):
    assert LabConfig.read(config.dir) == config
    with pytest.raises(LabError, match=r"no lab at .*nowhere: .*lab.json is missing \(run jetson-lab up\)"):
        LabConfig.read(tmp_path / "nowhere")


def test_supervisor_refuses_unknown_boards_actions_and_faults(config):
    supervisor = Supervisor(config)
    with pytest.raises(NotFound, match=r"lab board 'jtk9' is not in lab 'unit' \(boards: jtk1, jtk2\)"):
        supervisor.handle({"board": "jtk9", "action": "on"})
    with pytest.raises(LabError, match=r"unknown power action 'explode': expected one of on, off, cycle"):
        supervisor.handle({"board": "jtk1", "action": "explode"})
    with pytest.raises(LabError, match=r"unknown fault 'melt'"):
        supervisor.handle({"board": "jtk1", "fault": "melt"})
    with pytest.raises(LabError, match=r"a board may only ask for reboot or poweroff, not 'on'"):
        supervisor.handle_control(supervisor.boards["jtk1"], {"action": "on"})
    status = supervisor.handle({"board": "jtk1", "action": "status"})
    assert status["power"] == "off" and status["minion"] == "off" and status["ip"] == "10.213.77.11"


def test_faults_are_set_and_cleared_per_board(config):
    supervisor = Supervisor(config)
    assert supervisor.handle({"board": "jtk1", "fault": "no_boot"})["faults"] == ["no_boot"]
    assert supervisor.handle({"board": "jtk1", "fault": "stuck_on"})["faults"] == ["no_boot", "stuck_on"]
    assert supervisor.handle({"board": "jtk2", "action": "status"})["faults"] == []
    # A stuck board ignores power off without touching anything.
    assert supervisor.handle({"board": "jtk1", "action": "off"})["ignored"] == "stuck_on"
    assert supervisor.handle({"board": "jtk1", "fault": "clear"})["faults"] == []


def test_client_talks_json_over_the_socket_and_raises_the_supervisors_errors(config, tmp_path):
    supervisor = Supervisor(config)
    path = str(tmp_path / "s.sock")
    server = _listen(path, supervisor.handle)
    try:
        assert client.power(path, "jtk2", "status")["board"] == "jtk2"
        assert client.fault(path, "jtk2", "ignore_reboot")["faults"] == ["ignore_reboot"]
        assert [row["board"] for row in client.boards(path)] == ["jtk1", "jtk2"]
        with pytest.raises(NotFound, match="lab board 'nope' is not in lab 'unit'"):
            client.power(path, "nope", "status")
    finally:
        server.shutdown()
        server.server_close()


def test_client_errors_without_a_supervisor(tmp_path):
    with pytest.raises(LabUnavailable, match=r"no lab supervisor at .*absent.sock: the socket does not"):
        client.power(tmp_path / "absent.sock", "jtk1", "on")
    with pytest.raises(LabError, match=r"unknown power action 'reboot' for lab board 'jtk1': expected"):
        client.power(tmp_path / "absent.sock", "jtk1", "reboot")
    with pytest.raises(LabError, match=r"unknown fault 'x' for lab board 'jtk1'"):
        client.fault(tmp_path / "absent.sock", "jtk1", "x")


def test_client_times_out_on_a_silent_socket(tmp_path):
    path = str(tmp_path / "silent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        with pytest.raises(LabUnavailable, match=r"did not answer in 0.2s"):
            client.power(path, "jtk1", "status", timeout=0.2)
    finally:
        listener.close()


def test_nfs_null_call_is_a_framed_rpc_call_that_a_server_answers():
    call = nfs_session.null_call(7)
    header, xid, msg_type, rpcvers, prog, vers, proc = struct.unpack(">IIIIIII", call[:28])
    assert header == 0x80000000 | (len(call) - 4)
    assert (xid, msg_type, rpcvers, prog, vers, proc) == (7, 0, 2, 100003, 4, 0)
    left, right = socket.socketpair()
    reply = struct.pack(">IIIIIII", 7, 1, 0, 0, 0, 0, 0)
    threading.Thread(target=lambda: right.sendall(struct.pack(">I", 0x80000000 | len(reply)) + reply)).start()
    assert nfs_session.read_reply(left) == 7
    left.close()
    right.close()
