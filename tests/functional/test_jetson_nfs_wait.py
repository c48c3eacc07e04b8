"""jetson_nfs.clients and wait_idle, through Salt's loader, with real pings and real TCP sessions.

jtk1 (127.0.11.1) always answers ping. jtk2 gets an address on a veth whose far side sits,
down and without an address, in a network namespace this module creates: it answers no ping,
and no packet leaves the veth. A real TCP session to port 2049 is what a booted board holds.
"""

import random
import socket
import subprocess
import uuid

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import make_pillar

IP_TIMEOUT = 10


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=check)


@pytest.fixture(scope="module")
def silent_ip():
    """An address on a private veth subnet that nothing answers; the netns is removed after."""
    tag = uuid.uuid4().hex[:6]
    namespace, host_if, far_if = f"jnfs-wait-{tag}", f"jnw{tag}h", f"jnw{tag}n"
    routes = ip("-4", "route").stdout
    octet = next(o for o in random.sample(range(1, 255), 254) if f"10.251.{o}." not in routes)
    ip("netns", "add", namespace)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", far_if, "netns", namespace)
        ip("addr", "add", f"10.251.{octet}.1/24", "dev", host_if)
        ip("link", "set", host_if, "up")
        yield f"10.251.{octet}.2"
    finally:
        ip("link", "del", host_if, check=False)
        ip("netns", "del", namespace, check=False)


@pytest.fixture
def pillar(farm_dir, silent_ip):
    pillar = make_pillar(farm_dir)
    pillar["sites"]["site01"]["nfs"]["network"] = "0.0.0.0/0"  # jtk1 on loopback, jtk2 on its own segment
    pillar["boards"]["jtk2"]["ip"] = silent_ip
    return pillar


@pytest.fixture
def nfs_session():
    """A real TCP session from jtk1's address (127.0.11.1) to a listener on port 2049."""
    listener = socket.socket()
    for last in range(1, 50):
        try:
            listener.bind((f"127.0.99.{last}", 2049))
            break
        except OSError:
            continue
    listener.listen(1)
    client = socket.socket()
    client.bind(("127.0.11.1", 0))
    client.settimeout(5)
    client.connect(listener.getsockname())
    server_side, _ = listener.accept()
    yield client.getsockname()[1]
    for sock in (client, server_side, listener):
        sock.close()


def test_a_board_with_no_session_that_answers_no_ping_is_idle_at_once(modules, silent_ip):
    ret = modules.jetson_nfs.wait_idle("jtk2", timeout=5)
    assert ret["idle"] is True
    assert ret["board"] == "jtk2" and ret["ip"] == silent_ip
    assert modules.jetson_nfs.clients(board="jtk2") == []


def test_a_board_that_answers_ping_times_out_and_the_message_says_so(modules):
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_nfs.wait_idle("jtk1", timeout=1)
    assert "board jtk1 is not idle after 1s: it answers ping at 127.0.11.1" in str(err.value)
    assert "NFS session" not in str(err.value)


def test_a_held_nfs_session_is_listed_and_named_when_waiting_times_out(modules, nfs_session):
    session = {"ip": "127.0.11.1", "port": nfs_session, "via": "tcp"}
    assert session in modules.jetson_nfs.clients(board="jtk1")
    assert session in modules.jetson_nfs.clients(ip="127.0.11.1")
    assert session in modules.jetson_nfs.clients()
    assert modules.jetson_nfs.clients(board="jtk2") == []
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_nfs.wait_idle("jtk1", timeout=1)
    message = str(err.value)
    held = f"it holds an NFS session: 127.0.11.1:{nfs_session} (tcp)"
    assert f"board jtk1 is not idle after 1s: {held}" in message
    assert "; and it answers ping at 127.0.11.1" in message


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [({"ip": "not-an-ip"}, SaltInvocationError, "'not-an-ip' is not an IP address"),
     ({"board": "jtk1", "ip": "127.0.0.1"}, SaltInvocationError, "give board or ip, not both"),
     ({"board": "nope"}, SaltInvocationError, "unknown board 'nope'")],
)
def test_clients_refuses_bad_arguments(modules, kwargs, error, message):
    with pytest.raises(error, match=message):
        modules.jetson_nfs.clients(**kwargs)


def test_wait_idle_refuses_a_negative_timeout(modules):
    with pytest.raises(SaltInvocationError, match="timeout -1 must be a number >= 0"):
        modules.jetson_nfs.wait_idle("jtk2", timeout=-1)


def test_end_sessions_ends_the_boards_connections_to_the_nfs_port(modules, nfs_session):
    ret = modules.jetson_nfs.end_sessions("jtk1")
    assert ret == {"board": "jtk1", "ip": "127.0.11.1", "ended": [f"127.0.11.1:{nfs_session}"]}
    assert [s for s in modules.jetson_nfs.clients(board="jtk1") if s["via"] == "tcp"] == []
    assert modules.jetson_nfs.end_sessions("jtk1")["ended"] == []
