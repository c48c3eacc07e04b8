"""Driver ``wol``: a Wake-on-LAN magic packet (6 x FF, then 16 x the MAC) by UDP broadcast.

Power on only. Settings: ``Settings`` below; the default broadcast is the directed broadcast of
the board's subnet, from its ip and netmask, so the packet stays on the board's segment.
"""

import ipaddress
import socket
from typing import Literal

from pydantic import Field

from jetson_farm.power.base import UNKNOWN, PowerDriver
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import Port, PowerSettings
from jetson_farm.schema import Mac, expect_string, field, ipv4_or_empty, refuse, shown

IFNAME_MAX = 15


def magic_packet(mac):
    """The 102 bytes that wake ``mac`` (``aa:bb:cc:dd:ee:ff``)."""
    return b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) * 16


def directed_broadcast(ip, netmask):
    return str(ipaddress.IPv4Network(f"{ip}/{netmask}", strict=False).broadcast_address)


def _interface(value):
    if len(expect_string(value, "an interface name", IFNAME_MAX)) > IFNAME_MAX or "/" in value:
        raise refuse(f"{shown(value)} is not an interface name")
    return value


class Settings(PowerSettings):
    driver: Literal["wol"] = Field(description="selects this driver")
    mac: Mac = Field("", description="the MAC to wake (default: the board's `mac`)")
    broadcast: field(ipv4_or_empty, "IPv4") = Field("", description="where the packet goes (default: the "
                                                    "directed broadcast of the board's subnet)")
    port: Port = Field(9, description="the UDP port")
    interface: field(_interface, "interface") = Field("", description="send through this network device "
                                                                      "of the site server")

    def board_problems(self, board):
        if not (self.mac or board.mac):
            return [("mac", "required: driver wol needs the board's MAC (power.mac or the board's mac)")]
        return []

    def defaults_from(self, board, site_root):
        return {"mac": board.mac, "broadcast": directed_broadcast(board.ip, board.netmask)}


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
