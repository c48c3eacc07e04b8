"""A network namespace joined to the host by one veth pair: a private /24 segment for power tests.

::

    host  <host_if> 10.231.N.1/24  ===veth===  <ns_if> 10.231.N.2/24  inside netns <netns>

Traffic to ``ns_ip`` or the segment's ``broadcast`` never leaves the machine. ``set_up(False)``
takes the namespace's side down, so ``ns_ip`` stops answering ping like a board whose power was
cut. ``run(argv)`` gives the ``ip netns exec`` prefix for a process inside. Names carry a random
tag, so several segments coexist; ``destroy()`` removes the namespace and both veth ends.
"""

import ipaddress
import json
import logging
import secrets
import subprocess

from jetson_farm.errors import JetsonError

log = logging.getLogger(__name__)

IP_TIMEOUT = 10
SUBNET_BASE = "10.231"  # private, used only on these veth pairs


class VethError(JetsonError):
    """An ``ip`` command setting the segment up or down failed."""


def _ip(args):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False)
    if done.returncode != 0:
        raise VethError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _used_networks():
    routes = json.loads(_ip(["-j", "-4", "route", "show", "table", "all"]) or "[]")
    used = set()
    for route in routes:
        try:
            used.add(ipaddress.IPv4Network(route.get("dst", ""), strict=False))
        except ValueError:
            continue
    return used


class VethNamespace:
    def __init__(self, prefix="jp"):
        self.tag = prefix + secrets.token_hex(3)
        self.netns = f"{self.tag}-ns"
        self.host_if = f"{self.tag}h"
        self.ns_if = f"{self.tag}b"
        self.network = None

    @property
    def host_ip(self):
        return str(self.network.network_address + 1)

    @property
    def ns_ip(self):
        return str(self.network.network_address + 2)

    @property
    def broadcast(self):
        return str(self.network.broadcast_address)

    def create(self):
        used = _used_networks()
        for _ in range(64):
            candidate = ipaddress.IPv4Network(f"{SUBNET_BASE}.{secrets.randbelow(250) + 2}.0/24")
            if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):
                self.network = candidate
                break
        else:
            raise VethError(f"no free /24 under {SUBNET_BASE}.0.0/16 for a test segment")
        prefix = self.network.prefixlen
        try:
            _ip(["netns", "add", self.netns])
            _ip(["link", "add", self.host_if, "type", "veth",
                 "peer", "name", self.ns_if, "netns", self.netns])
            _ip(["addr", "add", f"{self.host_ip}/{prefix}", "brd", "+", "dev", self.host_if])
            _ip(["link", "set", self.host_if, "up"])
            _ip(["-n", self.netns, "addr", "add", f"{self.ns_ip}/{prefix}", "brd", "+", "dev", self.ns_if])
            _ip(["-n", self.netns, "link", "set", "lo", "up"])
            _ip(["-n", self.netns, "link", "set", self.ns_if, "up"])
        except VethError:
            self.destroy()
            raise
        log.info("segment %s: host %s on %s, netns %s with %s", self.network, self.host_ip, self.host_if,
                 self.netns, self.ns_ip)
        return self

    def set_up(self, up):
        """Bring the namespace's side of the link up (answers ping) or down (silent)."""
        _ip(["-n", self.netns, "link", "set", self.ns_if, "up" if up else "down"])

    def run(self, argv):
        """``argv`` prefixed to run inside the namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def destroy(self):
        for args in (["link", "del", self.host_if], ["netns", "del", self.netns]):
            try:
                _ip(args)
            except VethError as err:
                log.debug("cleanup: %s", err)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()
