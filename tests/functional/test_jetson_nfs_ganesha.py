"""jetson_nfs with the ganesha backend, through Salt's loader, against a real ganesha.nfsd.

A real NFS client (libnfs nfs-cat) proves each change: it reads a board's file after
``export`` and fails after ``unexport``. The client connects from 127.0.0.1, which
``ganesha_pillar`` gives jtk1: the client is jtk1, and jtk2 (127.0.12.1) is a board whose root it
must not reach.
"""

import dataclasses
import pathlib

import pytest
from salt.exceptions import CommandExecutionError

from jetson_farm.inventory import Inventory
from jetson_farm.nfs.dbus import GaneshaDbus
from jetson_farm.nfs.ganesha import render_block, render_conf
from tests.ganesha_server import ganesha, ganesha_pillar, nfs_cat  # noqa: F401 (fixture)


@pytest.fixture
def pillar(farm_dir, ganesha):  # noqa: F811
    pillar = ganesha_pillar(farm_dir, ganesha)
    for name, board in pillar["boards"].items():
        root = pathlib.Path(board["nfsroot"])
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "hostname").write_text(f"{name}\n")
    return pillar


@pytest.fixture(autouse=True)
def _withdraw_our_exports(ganesha, farm_dir):  # noqa: F811
    yield
    bus = GaneshaDbus(ganesha.dbus_address)
    for export_id, path in bus.show_exports().items():
        if path.startswith(f"{farm_dir}/"):
            bus.remove_export(export_id)
    ganesha.exports_conf.write_text("# no exports yet\n")


def board(pillar, name="jtk1"):
    return Inventory.load(pillar).board(name)


def test_export_makes_the_board_readable_by_a_real_nfs_client(modules, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").returncode != 0
    ret = modules.jetson_nfs.export("jtk1")
    assert ret["changes"] == {"file": f"added in {ganesha.exports_conf}",
                              "live": f"exported as id {jtk1.export_id}"}
    read = nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname")
    assert read.returncode == 0, read.stderr
    assert read.stdout == "jtk1\n"
    assert modules.jetson_nfs.is_exported("jtk1") is True
    assert GaneshaDbus(ganesha.dbus_address).show_exports()[jtk1.export_id] == jtk1.nfsroot


def test_the_export_block_carries_the_stable_id_path_pseudo_vfs_and_the_boards_own_client(
        modules, ganesha, pillar):  # noqa: F811
    jtk2 = board(pillar, "jtk2")
    modules.jetson_nfs.export("jtk2")
    text = ganesha.exports_conf.read_text()
    block = text[text.index("# jetson-board: jtk2"):]
    for line in (f"Export_Id = {jtk2.export_id};", f'Path = "{jtk2.nfsroot}";',
                 f'Pseudo = "{jtk2.nfsroot}";', "\n    Access_Type = None;\n    Squash = All_Squash;\n",
                 "FSAL { Name = VFS; }",
                 "CLIENT { Clients = 127.0.12.1; Access_Type = RW; Squash = No_Root_Squash; }"):
        assert line in block
    assert block.count("Clients =") == 1, "one client: the board itself"


def test_an_export_is_readable_from_its_own_boards_ip_only(modules, ganesha, pillar):  # noqa: F811
    jtk1, jtk2 = board(pillar), board(pillar, "jtk2")
    modules.jetson_nfs.export("jtk1")
    modules.jetson_nfs.export("jtk2")
    assert modules.jetson_nfs.is_exported("jtk2") is True
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").stdout == "jtk1\n"
    read = nfs_cat(ganesha, jtk2.nfsroot, "etc/hostname")  # from jtk1's address
    assert read.returncode != 0
    assert read.stdout == ""


def test_export_twice_changes_nothing_and_two_boards_coexist(modules, ganesha, pillar):  # noqa: F811
    modules.jetson_nfs.export("jtk1")
    assert modules.jetson_nfs.export("jtk1")["changed"] is False
    modules.jetson_nfs.export("jtk2")
    read = nfs_cat(ganesha, board(pillar).nfsroot, "etc/hostname")
    assert read.stdout == "jtk1\n", read.stderr
    listed = {e["board"]: e for e in modules.jetson_nfs.exports()}
    assert set(listed) == {"jtk1", "jtk2"}
    assert listed["jtk2"]["export_id"] == board(pillar, "jtk2").export_id
    assert listed["jtk2"]["active"] and listed["jtk2"]["configured"] and listed["jtk2"]["known"]
    assert listed["jtk2"]["clients"] == ["127.0.12.1"] and listed["jtk2"]["current"]


def test_unexport_makes_a_real_nfs_client_fail(modules, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    modules.jetson_nfs.export("jtk1")
    modules.jetson_nfs.export("jtk2")
    ret = modules.jetson_nfs.unexport("jtk1")
    assert ret["changes"] == {"live": f"removed export id {jtk1.export_id}",
                              "file": f"removed from {ganesha.exports_conf}"}
    read = nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname")
    assert read.returncode != 0
    assert "NFS4ERR_NOENT" in read.stderr
    assert modules.jetson_nfs.is_exported("jtk2") is True
    assert "# jetson-board: jtk1" not in ganesha.exports_conf.read_text()
    assert modules.jetson_nfs.is_exported("jtk1") is False
    assert modules.jetson_nfs.unexport("jtk1")["changed"] is False


def test_changed_options_update_the_live_export(loaders, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    loaders.modules.jetson_nfs.export("jtk1")
    pillar["sites"]["site01"]["nfs"]["options"] = ["ro", "root_squash"]
    loaders.set_pillar(pillar)
    ret = loaders.modules.jetson_nfs.export("jtk1")
    assert ret["changes"] == {"file": f"updated in {ganesha.exports_conf}",
                              "live": f"updated export id {jtk1.export_id}"}
    assert "Access_Type = RO; Squash = Root_Squash; }" in ganesha.exports_conf.read_text()
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").stdout == "jtk1\n"


def test_reload_serves_every_block_of_the_file_again(modules, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    modules.jetson_nfs.export("jtk1")
    GaneshaDbus(ganesha.dbus_address).remove_export(jtk1.export_id)
    assert modules.jetson_nfs.is_exported("jtk1") is False
    assert modules.jetson_nfs.reload()["boards"] == {"jtk1": "added"}
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").stdout == "jtk1\n"


def test_an_unreachable_ganesha_is_an_error_before_anything_changes(loaders, farm_dir, ganesha,  # noqa: F811
                                                                    pillar):
    pillar["sites"]["site01"]["nfs"]["ganesha_dbus"] = f"unix:path={farm_dir}/no-bus.sock"
    loaders.set_pillar(pillar)
    before = ganesha.exports_conf.read_text()
    for call in (lambda: loaders.modules.jetson_nfs.export("jtk1"),
                 lambda: loaders.modules.jetson_nfs.is_exported("jtk1")):
        with pytest.raises(CommandExecutionError,
                           match=f"NFS-Ganesha does not answer on unix:path={farm_dir}/no-bus.sock"):
            call()
    assert ganesha.exports_conf.read_text() == before


def test_a_missing_nfsroot_is_refused_and_nothing_changes(modules, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    (pathlib.Path(jtk1.nfsroot) / "etc" / "hostname").unlink()
    (pathlib.Path(jtk1.nfsroot) / "etc").rmdir()
    pathlib.Path(jtk1.nfsroot).rmdir()
    before = ganesha.exports_conf.read_text()
    with pytest.raises(CommandExecutionError, match=f"nfsroot {jtk1.nfsroot} is not a directory"):
        modules.jetson_nfs.export("jtk1")
    assert ganesha.exports_conf.read_text() == before
    assert jtk1.export_id not in GaneshaDbus(ganesha.dbus_address).show_exports()


def test_after_a_swap_and_export_a_real_client_reads_the_new_image(modules, farm_dir, ganesha,  # noqa: F811
                                                                  pillar):
    jtk1 = board(pillar)
    for leftover in ("etc/hostname", "etc"):  # an empty nfsroot: no image is there yet
        path = pathlib.Path(jtk1.nfsroot) / leftover
        path.unlink() if path.is_file() else path.rmdir()
    image = farm_dir / "root" / "images" / "alice" / "cuda-dev"
    (image / "etc").mkdir(parents=True)
    (image / "etc" / "issue").write_text("cuda-dev image\n")
    identity = farm_dir / "root" / "boards" / "jtk1" / "identity"
    identity.mkdir(parents=True)
    for key in ("minion.pem", "minion.pub"):  # the board's key pair, as jetson_rootfs wants it
        (identity / key).write_text(f"test {key}\n")
    modules.jetson_nfs.export("jtk1")
    with pytest.raises(CommandExecutionError, match=f"the nfsroot {jtk1.nfsroot} of board jtk1 is exported"):
        modules.jetson_rootfs.swap("jtk1", "alice/cuda-dev")
    modules.jetson_nfs.unexport("jtk1")
    assert modules.jetson_rootfs.swap("jtk1", "alice/cuda-dev")["changed"] is True
    modules.jetson_nfs.export("jtk1")
    read = nfs_cat(ganesha, jtk1.nfsroot, "etc/issue")
    assert read.returncode == 0, read.stderr
    assert read.stdout == "cuda-dev image\n"


def test_test_mode_reports_what_would_change_and_changes_nothing(modules, ganesha, pillar):  # noqa: F811
    jtk1 = board(pillar)
    before = ganesha.exports_conf.read_text()
    dry = modules.jetson_nfs.export("jtk1", test=True)
    assert dry["changes"] == {"file": f"added in {ganesha.exports_conf}",
                              "live": f"exported as id {jtk1.export_id}"}
    assert ganesha.exports_conf.read_text() == before
    assert modules.jetson_nfs.is_exported("jtk1") is False
    modules.jetson_nfs.export("jtk1")
    assert modules.jetson_nfs.export("jtk1", test=True)["changes"] == {}
    dry = modules.jetson_nfs.unexport("jtk1", test=True)
    assert dry["changes"] == {"live": f"removed export id {jtk1.export_id}",
                              "file": f"removed from {ganesha.exports_conf}"}
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").stdout == "jtk1\n"


def test_an_export_id_serving_another_path_is_replaced(modules, ganesha, pillar):  # noqa: F811
    jtk1, jtk2 = board(pillar), board(pillar, "jtk2")
    bus = GaneshaDbus(ganesha.dbus_address)
    # jtk2's nfsroot served under jtk1's id, as after a pillar edit that moved the nfsroot
    moved = render_block(Inventory.load(pillar).site("site01").nfs, jtk2).replace(
        f"Export_Id = {jtk2.export_id};", f"Export_Id = {jtk1.export_id};")
    ganesha.exports_conf.write_text(render_conf({"jtk1": moved}))
    bus.add_export(str(ganesha.exports_conf), jtk1.export_id)
    assert bus.show_exports()[jtk1.export_id] == jtk2.nfsroot
    ret = modules.jetson_nfs.export("jtk1")
    assert ret["changes"]["stale"] == f"removed export id {jtk1.export_id}"
    assert bus.show_exports()[jtk1.export_id] == jtk1.nfsroot
    assert nfs_cat(ganesha, jtk1.nfsroot, "etc/hostname").stdout == "jtk1\n"
    assert nfs_cat(ganesha, jtk2.nfsroot, "etc/hostname").returncode != 0


def test_exports_the_pillar_does_not_know_are_listed_and_marked(modules, farm_dir, ganesha, pillar):  # noqa: F811
    modules.jetson_nfs.export("jtk1")
    bus = GaneshaDbus(ganesha.dbus_address)
    inventory = Inventory.load(pillar)
    # A retired board's block left in the farm's file and live, and an export the farm never made.
    retired = dataclasses.replace(inventory.board("jtk2"), name="jtk9", nfsroot=str(farm_dir / "NFSRoot9"))
    by_hand = dataclasses.replace(retired, name="other", nfsroot=str(farm_dir / "elsewhere"))
    for leftover in (retired, by_hand):
        pathlib.Path(leftover.nfsroot).mkdir()
    site = inventory.site("site01").nfs
    blocks = {"jtk1": render_block(site, inventory.board("jtk1")), "jtk9": render_block(site, retired)}
    ganesha.exports_conf.write_text(render_conf(blocks))
    bus.add_export(str(ganesha.exports_conf), retired.export_id)
    elsewhere = farm_dir / "elsewhere.conf"
    elsewhere.write_text(render_conf({"other": render_block(site, by_hand)}))
    bus.add_export(str(elsewhere), by_hand.export_id)
    listed = {e["path"]: e for e in modules.jetson_nfs.exports()}
    assert listed[retired.nfsroot] == {
        "board": "jtk9", "path": retired.nfsroot, "clients": ["127.0.12.1"], "options": [],
        "export_id": retired.export_id, "active": True, "configured": True, "known": False, "current": False}
    assert listed[by_hand.nfsroot] | {"export_id": None} == {
        "board": None, "path": by_hand.nfsroot, "clients": [], "options": [], "export_id": None,
        "active": True, "configured": False, "known": False, "current": False}
    assert listed[inventory.board("jtk1").nfsroot]["known"] is True
