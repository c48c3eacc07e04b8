"""A board reaches only its own root (rule 7), tried as a user root on a lab board would.

From jtk2's network namespace, with libnfs's ``nfs-ls``, ``nfs-cat`` and ``nfs-cp`` against the
lab's Ganesha: jtk1's nfsroot, an image in the store, the site root and the server's own files
are each refused (list, read, write); jtk2's own root still lists, reads and takes a write. And
jtk2 taking jtk1's address gets nothing through the lab's bridge (its port is bound to its own
address, docs/lab.md).

The kernel NFS backend has no test here: this machine runs no kernel NFS server. Its export
line (the board's address only) is checked by tests/functional/test_jetson_nfs_kernel.py.
"""

import json
import pathlib
import socket
import subprocess
import sys
import uuid

import pytest

from jetson_lab.boot import nfs_url
from tests.lab_fixture import lab_session  # noqa: F401

ATTACKER, VICTIM = "jtk2", "jtk1"
NFS_TIMEOUT = 60
PLANTED = f"planted-by-{ATTACKER}.txt"
MINION_KEY = "etc/salt/pki/minion/minion.pem"
REPO = pathlib.Path(__file__).resolve().parents[2]


def in_board(lab, board, argv, timeout=NFS_TIMEOUT, **kwargs):
    """``argv`` run inside ``board``'s network namespace, as root on the board would run it."""
    return subprocess.run(["ip", "netns", "exec", lab.config.network.netns(board), *argv],
                          capture_output=True, timeout=timeout, check=False, **kwargs)


def url(lab, folder, relpath=""):
    return nfs_url(lab.address, lab.config.nfs_port, str(folder), relpath)


def attempt(lab, argv):
    """``argv`` from the attacker's namespace; (exit code, what it printed), for the report."""
    proc = in_board(lab, ATTACKER, argv)
    shown = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
    print(f"{ATTACKER}# {' '.join(argv)}\n  -> exit {proc.returncode}: {shown[0] if shown else ''}")
    return proc.returncode, proc.stdout


TARGETS = ("another board's root", "an image in the store", "the site root", "the server's own files")


def targets(lab):
    """{what: (a folder, exported or not; a file in it to read; where in it to write, "" for itself)}."""
    site_root = lab.config.site_root_of(lab.site_of(VICTIM))
    image = site_root / "images" / "admin" / "l4t-base"
    return {
        "another board's root": (pathlib.Path(lab.nfsroot(VICTIM)), MINION_KEY, "root"),
        "an image in the store": (image, "etc/os-release", "root"),
        "the site root": (site_root, f"boards/{VICTIM}/identity/minion.pem", ""),
        "the server's own files": (pathlib.Path("/etc"), "os-release", ""),
    }


@pytest.mark.parametrize("what", TARGETS)
def test_a_board_cannot_list_read_or_write_what_is_not_its_root(lab, what, tmp_path):
    folder, readable, writable = targets(lab)[what]
    secret = (folder / readable).read_bytes()
    assert secret, f"{folder / readable} is empty: nothing to steal, the test would prove nothing"
    planted = folder / writable / PLANTED
    target = f"{writable}/{PLANTED}" if writable else PLANTED
    payload = tmp_path / PLANTED
    payload.write_text(f"written by {ATTACKER}\n")
    try:
        code, listing = attempt(lab, ["nfs-ls", url(lab, folder)])
        assert code != 0 and not listing, f"{ATTACKER} listed {what}: {listing!r}"
        code, read = attempt(lab, ["nfs-cat", url(lab, folder, readable)])
        assert code != 0 and secret not in read, f"{ATTACKER} read {folder / readable}"
        code, _ = attempt(lab, ["nfs-cp", str(payload), url(lab, folder, target)])
        assert code != 0, f"nfs-cp into {what} exited 0"
        assert not planted.exists(), f"{ATTACKER} wrote {planted}"
    finally:
        planted.unlink(missing_ok=True)


def test_a_board_lists_reads_and_writes_its_own_root(lab, tmp_path):
    root = pathlib.Path(lab.nfsroot(ATTACKER))
    name = f"written-by-{ATTACKER}-{uuid.uuid4().hex[:8]}.txt"
    written = root / "root" / name
    payload = tmp_path / name
    payload.write_text(f"{ATTACKER} writes its own root\n")
    try:
        code, read = attempt(lab, ["nfs-cat", url(lab, root, MINION_KEY)])
        assert code == 0 and read == (root / MINION_KEY).read_bytes()
        code, _ = attempt(lab, ["nfs-cp", str(payload), url(lab, root, f"root/{name}")])
        assert code == 0
        assert written.read_text() == payload.read_text()
        code, listing = attempt(lab, ["nfs-ls", url(lab, root, "root")])
        assert code == 0 and name in listing.decode()
    finally:
        written.unlink(missing_ok=True)


def neighbour_mac(lab, address):
    """The MAC the host holds for ``address`` on the lab's bridge (None: none)."""
    proc = subprocess.run(["ip", "-j", "neigh", "show", "to", address, "dev", lab.config.network.bridge],
                          capture_output=True, text=True, timeout=10, check=True)
    entries = json.loads(proc.stdout or "[]")
    return entries[0].get("lladdr") if entries else None


def send_in_order(lab, steps):
    """The steps (tests/board_packets.py) sent in order from inside the attacker's namespace."""
    proc = in_board(lab, ATTACKER, ["taskset", "-c", "0", sys.executable, "-m", "tests.board_packets",
                                    json.dumps(steps)], cwd=REPO, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_board_that_takes_another_boards_address_gets_nothing_through(lab):
    net = lab.config.network
    interface = net.veth_board(lab.config.board_index(ATTACKER))
    own, taken = lab.ip(ATTACKER), lab.ip(VICTIM)
    attacker_mac = json.loads(in_board(lab, ATTACKER, ["ip", "-j", "link", "show", "dev", interface],
                                       text=True).stdout)[0]["address"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host:
        host.bind((lab.address, 0))
        host.settimeout(NFS_TIMEOUT)
        to_host = [lab.address, host.getsockname()[1]]
        send_in_order(lab, [{"udp": to_host, "from": own, "payload": "hello"}])
        data, (source, _) = host.recvfrom(100)
        assert (data, source) == (b"hello", own)
        subprocess.run(["ip", "-n", net.netns(ATTACKER), "addr", "add", f"{taken}/32", "dev", interface],
                       check=True, timeout=10)
        try:
            send_in_order(lab, [
                {"udp": to_host, "from": taken, "payload": "spoofed"},
                {"arp": interface, "sender": taken, "target": lab.address},
                {"udp": to_host, "from": own, "payload": "marker"},
            ])
            seen = []
            while not seen or seen[-1][0] != b"marker":
                data, (source, _) = host.recvfrom(100)
                seen.append((data, source))
        finally:
            subprocess.run(["ip", "-n", net.netns(ATTACKER), "addr", "del", f"{taken}/32", "dev", interface],
                           check=True, timeout=10)
    assert seen == [(b"marker", own)], f"the host got {seen} from {ATTACKER}'s port"
    assert neighbour_mac(lab, taken) != attacker_mac, f"the host now sends {VICTIM}'s traffic to {ATTACKER}"
    assert lab.minion_answers(VICTIM) and lab.minion_answers(ATTACKER)
