"""The lab's network: one bridge on the host, one network namespace and veth pair per board.

The bridge carries the address the boards use for the master and the NFS server; each board's
namespace has one veth whose far side is enslaved to the bridge. Powering a board off takes its
links down, so it stops answering ping and loses its TCP sessions, like a real board.

Each board's port on the bridge (its veth's host end, or a VM board's tap) is bound to the
board's address, as a switch with port security and IP source guard binds it: an nftables table
of the bridge family (``jl<tag>``) drops every frame from a board's port that is not IPv4 from
its own address or ARP with its own address as sender. So a board that takes another board's
address (say, to be let into that board's NFS export) gets nothing through.

Every name carries a tag derived from the lab's name, so two labs (tests and demo) coexist.
Interface names are limited to 15 characters by the kernel.
"""

import hashlib
import ipaddress
import json
import logging
import os
import signal
import subprocess
from dataclasses import dataclass

from jetson_farm.errors import JetsonError

log = logging.getLogger(__name__)

IP_TIMEOUT = 10
NFT_TIMEOUT = 10
SUBNET_BASE = "10.213"  # private, used only on the lab's own bridge


class NetworkError(JetsonError):
    """An ``ip`` command of the lab's network setup failed."""


def lab_tag(lab_name):
    """Four hex characters that stand for the lab in interface and namespace names."""
    return hashlib.sha1(lab_name.encode(), usedforsecurity=False).hexdigest()[:4]


@dataclass(frozen=True)
class LabNetwork:
    """The names and addresses of one lab's network (all derived, nothing created here)."""

    tag: str
    subnet_octet: int

    @property
    def bridge(self):
        return f"jl{self.tag}br"

    @property
    def network(self):
        return ipaddress.IPv4Network(f"{SUBNET_BASE}.{self.subnet_octet}.0/24")

    @property
    def bridge_addr(self):
        return f"{SUBNET_BASE}.{self.subnet_octet}.1"

    def site_addr(self, number):
        """Site ``number``'s NFS address: the bridge address for the first, ``.N`` for the N-th."""
        return self.bridge_addr if number == 1 else f"{SUBNET_BASE}.{self.subnet_octet}.{number}"

    def board_addr(self, index):
        return f"{SUBNET_BASE}.{self.subnet_octet}.{10 + index}"

    def netns(self, board):
        return f"jl-{self.tag}-{board}"

    def veth_host(self, index):
        return f"jl{self.tag}h{index}"

    def veth_board(self, index):
        return f"jl{self.tag}b{index}"

    def tap(self, index):
        """A VM board's tap on the bridge (QEMU opens it by name)."""
        return f"jl{self.tag}t{index}"

    def mac(self, index):
        return f"02:4a:4c:00:{index // 256:02x}:{index % 256:02x}"

    @property
    def port_filter(self):
        """The nftables table (family bridge) that binds each board's port to its address."""
        return f"jl{self.tag}"


def run_ip(args, check=True):
    """Run ``ip ARGS`` (an argument list); NetworkError with its stderr when it fails."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT,
                          check=False)
    if check and proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def run_nft(script, check=True):
    """Run an nftables script (one atomic transaction); NetworkError with its stderr when it fails."""
    try:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True,
                              timeout=NFT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise NetworkError("nft not found: the lab binds each board's port to its address with "
                           "nftables (Debian package nftables, in scripts/setup.sh)") from None
    if check and proc.returncode != 0:
        raise NetworkError(f"nft -f failed: {proc.stderr.strip()}\n{script}")
    return proc


def bind_port(net, port, address):
    """Let bridge port ``port`` send IPv4 from ``address`` and ARP for it only. Idempotent.

    The chain's rules are rewritten in the same transaction, so running it again adds none; the
    sets keep every other board's binding. The hook is the bridge's prerouting: frames to the
    host (the master, the NFS server) and to other boards pass it alike.
    """
    name = net.port_filter
    run_nft(f"""add table bridge {name}
add set bridge {name} ports {{ type ifname; }}
add set bridge {name} bound {{ type ifname . ipv4_addr; }}
add chain bridge {name} board_ports {{ type filter hook prerouting priority -300; policy accept; }}
flush chain bridge {name} board_ports
add rule bridge {name} board_ports iifname != @ports accept
add rule bridge {name} board_ports iifname . arp saddr ip @bound accept
add rule bridge {name} board_ports iifname . ip saddr @bound accept
add rule bridge {name} board_ports counter drop
add element bridge {name} ports {{ "{port}" }}
add element bridge {name} bound {{ "{port}" . {ipaddress.IPv4Address(address)} }}
""")


def remove_port_filter(net):
    """Delete the lab's port bindings (the whole table); False when there was none."""
    try:
        return run_nft(f"delete table bridge {net.port_filter}\n", check=False).returncode == 0
    except NetworkError:  # no nft: no table either
        return False


def link_exists(name, netns=None):
    prefix = ["-n", netns] if netns else []
    return run_ip([*prefix, "link", "show", "dev", name], check=False).returncode == 0


def netns_exists(name):
    proc = run_ip(["-j", "netns", "list"], check=False)
    try:
        names = {entry["name"] for entry in json.loads(proc.stdout or "[]")}
    except (ValueError, KeyError, TypeError):
        names = set()
    return name in names


def used_subnets():
    """The IPv4 networks configured on any host interface now."""
    proc = run_ip(["-j", "-4", "addr", "show"], check=False)
    networks = set()
    for link in json.loads(proc.stdout or "[]"):
        for addr in link.get("addr_info", []):
            networks.add(ipaddress.IPv4Interface(f"{addr['local']}/{addr['prefixlen']}").network)
    return networks


def pick_subnet_octet(tag):
    """A third octet whose 10.213.N.0/24 no host interface uses yet, starting from the tag's."""
    used = used_subnets()
    start = int(tag, 16) % 200 + 20
    for step in range(200):
        octet = (start - 20 + step) % 200 + 20
        candidate = ipaddress.IPv4Network(f"{SUBNET_BASE}.{octet}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return octet
    raise NetworkError(f"no free /24 left in {SUBNET_BASE}.0.0/16 for the lab's bridge")


def create_bridge(net, sites=1):
    """The bridge with the lab's host address (and one more per further site), up. Idempotent."""
    if not link_exists(net.bridge):
        run_ip(["link", "add", net.bridge, "type", "bridge"])
    addrs = json.loads(run_ip(["-j", "-4", "addr", "show", "dev", net.bridge]).stdout or "[]")
    have = {info["local"] for link in addrs for info in link.get("addr_info", [])}
    for number in range(1, sites + 1):
        if net.site_addr(number) not in have:
            run_ip(["addr", "add", f"{net.site_addr(number)}/24", "dev", net.bridge])
    run_ip(["link", "set", net.bridge, "up"])


def create_board_netns(net, board, index):
    """The board's namespace with its veth on the bridge and its address, the veth's bridge end
    bound to that address (bind_port); links left down."""
    ns = net.netns(board)
    if not netns_exists(ns):
        run_ip(["netns", "add", ns])
    host, inner = net.veth_host(index), net.veth_board(index)
    if not link_exists(inner, netns=ns):
        if link_exists(host):
            run_ip(["link", "del", host])
        run_ip(["link", "add", host, "type", "veth", "peer", "name", inner])
        run_ip(["link", "set", inner, "netns", ns])
        run_ip(["link", "set", host, "master", net.bridge])
    addrs = run_ip(["-n", ns, "-j", "-4", "addr", "show", "dev", inner]).stdout
    if net.board_addr(index) not in addrs:
        run_ip(["-n", ns, "addr", "add", f"{net.board_addr(index)}/24", "dev", inner])
    run_ip(["-n", ns, "link", "set", "lo", "up"])
    bind_port(net, host, net.board_addr(index))


def create_tap(net, index):
    """The persistent tap of VM board ``index``, on the bridge, bound to the board's address
    (bind_port) and up. Idempotent. With no QEMU attached it has no carrier: the board answers no
    ping, like one powered off."""
    tap = net.tap(index)
    if not link_exists(tap):
        run_ip(["tuntap", "add", "dev", tap, "mode", "tap"])
    run_ip(["link", "set", tap, "master", net.bridge])
    bind_port(net, tap, net.board_addr(index))
    run_ip(["link", "set", tap, "up"])


def set_board_link(net, board, index, up):
    """Bring the board's veth pair up (powered on) or down (powered off)."""
    state = "up" if up else "down"
    run_ip(["link", "set", net.veth_host(index), state])
    # No default route: a board reaches only its own /24, i.e. the bridge's master and NFS.
    run_ip(["-n", net.netns(board), "link", "set", net.veth_board(index), state])


def kill_netns_processes(ns):
    """SIGKILL every process still running in namespace ``ns`` (a board left by a dead supervisor)."""
    if not netns_exists(ns):
        return []
    pids = run_ip(["netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    return pids


def destroy(net, boards):
    """Remove every netns, veth and the bridge of the lab. Idempotent; returns what it removed."""
    removed = []
    for index, board in enumerate(boards, start=1):
        if link_exists(net.veth_host(index)):
            run_ip(["link", "del", net.veth_host(index)], check=False)
            removed.append(net.veth_host(index))
        if netns_exists(net.netns(board)):
            run_ip(["netns", "del", net.netns(board)], check=False)
            removed.append(net.netns(board))
    proc = run_ip(["-j", "link", "show"], check=False)
    for link in json.loads(proc.stdout or "[]"):
        if link.get("ifname", "").startswith(f"jl{net.tag}t"):
            run_ip(["link", "del", link["ifname"]], check=False)
            removed.append(link["ifname"])
    # Namespaces of boards no longer in the list (a lab brought up with more boards before).
    proc = run_ip(["-j", "netns", "list"], check=False)
    for entry in json.loads(proc.stdout or "[]"):
        if entry.get("name", "").startswith(f"jl-{net.tag}-"):
            run_ip(["netns", "del", entry["name"]], check=False)
            removed.append(entry["name"])
    if link_exists(net.bridge):
        run_ip(["link", "del", net.bridge], check=False)
        removed.append(net.bridge)
    if remove_port_filter(net):
        removed.append(f"nft table bridge {net.port_filter}")
    return removed
