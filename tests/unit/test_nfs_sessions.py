"""Reading who holds an NFS session: /proc/net/tcp{,6} and /proc/fs/nfsd/clients/*/info formats."""

import pytest

from jetson_farm.errors import NfsError
from jetson_farm.inventory import Inventory
from jetson_farm.nfs import common
from tests.conftest import make_pillar

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout\n"


def test_established_connections_to_port_2049_are_sessions(tmp_path):
    tcp = tmp_path / "tcp"
    tcp.write_text(
        TCP_HEADER
        # 127.0.0.1:2049 <- 127.0.11.1:40000, established
        + "   0: 0100007F:0801 010B007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1\n"
        # the same, but listening (0A): not a session
        + "   1: 0100007F:0801 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2\n"
        # 127.0.0.1:22 <- 127.0.11.1: not NFS
        + "   2: 0100007F:0016 010B007F:9C41 01 00000000:00000000 00:00000000 00000000     0        0 3\n")
    tcp6 = tmp_path / "tcp6"
    tcp6.write_text(
        TCP_HEADER
        # [::ffff:10.0.0.5]:2049 <- [::ffff:10.0.0.9]:1023
        + "   0: 0000000000000000FFFF00000500000A:0801 0000000000000000FFFF00000900000A:03FF 01 "
          "00000000:00000000 00:00000000 00000000     0        0 4\n")
    assert common.tcp_sessions(2049, paths=(str(tcp), str(tcp6), str(tmp_path / "absent"))) == [
        {"ip": "127.0.11.1", "port": 40000, "via": "tcp"},
        {"ip": "10.0.0.9", "port": 1023, "via": "tcp"},
    ]


def test_nfsd_clients_are_read_from_their_info_files(tmp_path):
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / "info").write_text('clientid: 0x1\naddress: "192.168.137.131:845"\n'
                                         'name: "Linux NFSv4.2 jtk1"\nminor version: 2\n')
    (tmp_path / "6").mkdir()
    (tmp_path / "6" / "info").write_text('address: "[::ffff:10.0.0.7]:700"\nname: "x"\n')
    assert common.nfsd_clients(str(tmp_path)) == [
        {"ip": "192.168.137.131", "name": "Linux NFSv4.2 jtk1", "via": "nfsd"},
        {"ip": "10.0.0.7", "name": "x", "via": "nfsd"},
    ]
    assert common.nfsd_clients(str(tmp_path / "absent")) == []


def test_ipv4_mapped_addresses_are_shown_as_ipv4():
    assert common.normalise_ip("::ffff:127.0.0.1") == "127.0.0.1"
    assert common.normalise_ip("fd00::2") == "fd00::2"


def test_a_result_says_whether_it_changed_anything():
    assert common.Result("jtk1", "/x").as_dict() == {"board": "jtk1", "path": "/x", "changes": {},
                                                      "warnings": [], "changed": False}
    assert common.Result("jtk1", "/x", changes={"live": "exported"}).as_dict()["changed"] is True


def test_an_nfsroot_no_exports_file_can_carry_is_refused(tmp_path):
    for bad in ('/srv/a"b', "/srv/a#b", "/srv/a\nb"):
        with pytest.raises(NfsError, match="holds a character no exports file can carry"):
            common.check_export_path(bad)
    with pytest.raises(NfsError, match=f"nfsroot {tmp_path}/none is not a directory on this server"):
        common.check_export_path(f"{tmp_path}/none")


def test_the_ganesha_dbus_address_is_checked(tmp_path):
    pillar = make_pillar(tmp_path, backend="ganesha", ganesha_dbus="unix:path=/run/j/bus.sock")
    assert Inventory.load(pillar).site("site01").nfs.ganesha_dbus == "unix:path=/run/j/bus.sock"
    pillar["sites"]["site01"]["nfs"]["ganesha_dbus"] = "unix:path=/x;rm -rf /"
    assert Inventory(pillar).problems()[0] == (
        "sites.site01.nfs.ganesha_dbus: 'unix:path=/x;rm -rf /' must be a DBus address like "
        "'unix:path=/run/jetson/bus.sock', or empty for the system bus")
