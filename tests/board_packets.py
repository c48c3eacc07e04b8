"""Packets a user root on a lab board sends, in order, from inside the board's namespace.

Run as ``ip netns exec <ns> taskset -c 0 python -m tests.board_packets STEPS`` where STEPS is a
JSON list, each step one of:

- ``{"udp": [host, port], "from": address, "payload": text}``: one datagram, its socket bound to
  ``address`` (the board's own, or one it has taken);
- ``{"arp": interface, "sender": address, "target": address}``: one ARP request ("who has
  target, tell sender") with the interface's own MAC, as a board announcing it is ``sender``.

Pinned to one CPU, the steps reach the host in the order given (a veth hands each frame to the
sending CPU's backlog): a last datagram from the board's own address is the event that says
every earlier one has been seen or dropped.
"""

import ipaddress
import json
import socket
import struct
import sys

ETH_P_ARP = 0x0806
ARP_REQUEST = 1


def send_udp(host, port, source, payload):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(payload.encode(), (host, port))


def arp_request(mac, sender, target):
    """An Ethernet broadcast frame carrying ARP "who has ``target``, tell ``sender``" from ``mac``."""
    hw = bytes.fromhex(mac.replace(":", ""))
    arp = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, ARP_REQUEST, hw,
                      ipaddress.IPv4Address(sender).packed, b"\0" * 6, ipaddress.IPv4Address(target).packed)
    return b"\xff" * 6 + hw + struct.pack(">H", ETH_P_ARP) + arp


def send_arp(interface, sender, target):
    with open(f"/sys/class/net/{interface}/address", encoding="ascii") as handle:
        mac = handle.read().strip()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((interface, 0))
        sock.send(arp_request(mac, sender, target))


def main(argv=None):
    for step in json.loads((argv or sys.argv[1:])[0]):
        if "udp" in step:
            send_udp(*step["udp"], step["from"], step["payload"])
        else:
            send_arp(step["arp"], step["sender"], step["target"])


if __name__ == "__main__":
    main()
