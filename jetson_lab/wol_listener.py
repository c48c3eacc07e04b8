"""A Wake-on-LAN listener: what a sleeping board's network card watches for, as a process.

``python -m jetson_lab.wol_listener --port 9 --out packets.jsonl [--count 1] [--timeout 60]``
binds UDP ``0.0.0.0:<port>`` (run it inside a network namespace of your own, with
``ip netns exec``), prints ``ready`` once bound, and writes one JSON line per datagram to
``--out``: ``{"from": ip, "size": n, "mac": "aa:bb:..." or null}``. ``mac`` is set only for a
well-formed magic packet (6 x FF, then 16 x the same MAC, optionally a 4 or 6 byte password).
It exits after ``--count`` datagrams or ``--timeout`` seconds.
"""

import argparse
import json
import socket
import sys
import time


def mac_of_magic_packet(data):
    """The MAC a magic packet wakes (``aa:bb:cc:dd:ee:ff``), or None if ``data`` is not one."""
    if len(data) not in (102, 106, 108) or data[:6] != b"\xff" * 6:
        return None
    target = data[6:12]
    if data[6:102] != target * 16:
        return None
    return ":".join(f"{byte:02x}" for byte in target)


def listen(port, out, count, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", port))  # noqa: S104 - inside the caller's own network namespace
        print("ready", flush=True)
        deadline = time.monotonic() + timeout
        received = 0
        while received < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return 1
            sock.settimeout(left)
            try:
                data, (sender, _) = sock.recvfrom(2048)
            except TimeoutError:
                return 1
            received += 1
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"from": sender, "size": len(data),
                                         "mac": mac_of_magic_packet(data)}) + "\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Record Wake-on-LAN magic packets.")
    parser.add_argument("--port", type=int, default=9)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    return listen(args.port, args.out, args.count, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
