"""The NFS session a powered-on lab board holds: one TCP connection to the NFS server.

A board booted from NFS keeps a TCP connection to port 2049 for as long as it runs; the site's
``jetson_nfs.clients``/``wait_idle`` look for exactly that. This small process, started inside
the board's namespace, opens the connection and sends an NFS NULL call (RPC program 100003,
version 4, procedure 0) every few seconds so the server never drops it as idle. It reconnects
if the server restarts, and dies with the board (the supervisor kills it at power-off).

Run as ``python -m jetson_lab.nfs_session SERVER PORT``.
"""

import argparse
import logging
import socket
import struct
import sys
import time

log = logging.getLogger(__name__)

NFS_PROGRAM = 100003
NFS_VERSION = 4
KEEPALIVE_SECONDS = 10
CONNECT_TIMEOUT = 5


def null_call(xid):
    """An ONC RPC CALL of NFS NULL with AUTH_NONE, framed with TCP record marking."""
    body = struct.pack(">IIIIII", xid, 0, 2, NFS_PROGRAM, NFS_VERSION, 0) + struct.pack(">IIII", 0, 0, 0, 0)
    return struct.pack(">I", 0x80000000 | len(body)) + body


def read_reply(sock):
    """Read one RPC record; the reply's xid."""
    header = _read_exact(sock, 4)
    length = struct.unpack(">I", header)[0] & 0x7FFFFFFF
    body = _read_exact(sock, length)
    return struct.unpack(">I", body[:4])[0]


def _read_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the NFS server closed the connection")
        data += chunk
    return data


def hold(server, port):
    """Hold a session to ``server:port`` until killed; reconnect when it drops."""
    xid = 1
    while True:
        try:
            with socket.create_connection((server, port), timeout=CONNECT_TIMEOUT) as sock:
                log.info("NFS session to %s:%s open", server, port)
                while True:
                    sock.sendall(null_call(xid))
                    read_reply(sock)
                    xid += 1
                    time.sleep(KEEPALIVE_SECONDS)
        except OSError as err:
            log.info("NFS session to %s:%s dropped: %s; retrying", server, port, err)
            time.sleep(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server")
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    hold(args.server, args.port)


if __name__ == "__main__":
    main()
