"""jetson_lab.nfs_server.GaneshaServer: private instances that never clash, real NFS reads."""

import subprocess

import pytest

from jetson_farm.inventory import Inventory
from jetson_farm.nfs import backend_for
from jetson_farm.nfs.dbus import GaneshaDbus
from jetson_farm.nfs.ganesha import render_block, render_conf
from jetson_lab.nfs_server import GaneshaServer, LabNfsError
from tests.ganesha_server import _free_port, ganesha, ganesha_pillar, nfs_cat  # noqa: F401 (fixture)


def own_processes(server):
    """The pids of processes started with this server's state folder on their command line."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, timeout=10,
                         check=True).stdout
    return [line for line in out.splitlines() if str(server.state_dir) in line]


def test_a_second_instance_has_its_own_bus_and_exports(farm_dir, ganesha):  # noqa: F811
    inventory = Inventory.load(ganesha_pillar(farm_dir, ganesha))
    jtk1 = inventory.board("jtk1")
    (farm_dir / "NFSRoot1").mkdir()
    (farm_dir / "NFSRoot1" / "id").write_text("second\n")
    with GaneshaServer(farm_dir / "second", port=_free_port()) as second:
        assert second.dbus_address != ganesha.dbus_address
        backend_for(Inventory.load(ganesha_pillar(farm_dir, second)).site("site01").nfs).export(jtk1)
        assert GaneshaDbus(second.dbus_address).show_exports()[jtk1.export_id] == jtk1.nfsroot
        assert jtk1.export_id not in GaneshaDbus(ganesha.dbus_address).show_exports()
        assert nfs_cat(second, jtk1.nfsroot, "id").stdout == "second\n"
        assert nfs_cat(ganesha, jtk1.nfsroot, "id").returncode != 0
    assert not second.running()
    assert own_processes(second) == []


def test_without_dbus_it_serves_the_exports_file_it_starts_with(farm_dir):
    inventory = Inventory.load(ganesha_pillar(farm_dir, GaneshaServer(farm_dir / "nodbus")))
    jtk1 = inventory.board("jtk1")
    (farm_dir / "NFSRoot1").mkdir()
    (farm_dir / "NFSRoot1" / "id").write_text("no bus\n")
    server = GaneshaServer(farm_dir / "nodbus", port=_free_port(), dbus=False)
    server.state_dir.mkdir()
    server.exports_conf.write_text(render_conf({"jtk1": render_block(inventory.site("site01").nfs, jtk1)}))
    with server:
        assert server.dbus_address == ""
        assert not (server.state_dir / "bus.sock").exists()
        assert nfs_cat(server, jtk1.nfsroot, "id").stdout == "no bus\n"
    assert own_processes(server) == []


def test_a_taken_port_is_refused_before_anything_starts(farm_dir, ganesha):  # noqa: F811
    clash = GaneshaServer(farm_dir / "clash", port=ganesha.port)
    with pytest.raises(LabNfsError, match=f"something already listens on 127.0.0.1:{ganesha.port}"):
        clash.start()
    assert not clash.running()
    assert own_processes(clash) == []
    clash.stop()  # stopping what never started is harmless


def test_the_url_names_version_4_and_the_port():
    server = GaneshaServer("/var/tmp/unused", bind_addr="10.213.1.1", port=2050)
    assert server.url("/srv/NFSRoot1", "etc/hostname") == (
        "nfs://10.213.1.1/srv/NFSRoot1/etc/hostname?version=4&nfsport=2050")
