"""Driver ``wol``: a Wake-on-LAN magic packet (6 x FF, then 16 x the MAC) by UDP broadcast.

Power on only. Settings: ``mac`` (default the board's), ``broadcast`` (default the directed
broadcast of the board's subnet, from its ip and netmask, so the packet stays on the board's
segment), ``port`` (9), ``interface`` (bind to this network device of the site server).
"""

import ipaddress
import socket
from dataclasses import dataclass

from jetson_farm.power.base import UNKNOWN, PowerDriver
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import SpecReader

KEYS = ("mac", "broadcast", "port", "interface")
IFNAME_MAX = 15


def magic_packet(mac):
    """The 102 bytes that wake ``mac`` (``aa:bb:cc:dd:ee:ff``)."""
    return b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) * 16


def directed_broadcast(ip, netmask):
    return str(ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False).broadcast_address)


@dataclass(frozen=True)
class Device:
    board: str
    mac: str
    broadcast: str
    port: int
    interface: str

    @classmethod
    def from_pillar(cls, board, spec, site_root):
        reader = SpecReader(board.name, "wol", spec, KEYS)
        interface = reader.string("interface", what="a network interface name")
        if len(interface) > IFNAME_MAX or "/" in interface:
            reader.problems.append(f"boards.{board.name}.power.interface: {interface!r} "
                                   "is not an interface name")
        device = cls(
            board=board.name,
            mac=reader.mac("mac", board.mac),
            broadcast=reader.ipv4("broadcast", directed_broadcast(board.ip, board.netmask)),
            port=reader.port("port", 9),
            interface=interface,
        )
        reader.done()
        return device


class Driver(PowerDriver):
    name = "wol"
    actions = frozenset({"on"})

    def on(self):
        device = self.device
        packet = magic_packet(device.mac)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                if device.interface:
                    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.interface.encode())
                sender.settimeout(5)
                sender.sendto(packet, (device.broadcast, device.port))
        except OSError as err:
            raise PowerError(f"{self.describe('on')} failed: cannot send the magic packet for {device.mac} "
                             f"to {device.broadcast}:{device.port}: {err}") from err
        # A magic packet has no answer: the board's power state is not known until it boots.
        return UNKNOWN
