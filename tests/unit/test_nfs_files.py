"""The NFS backends' file formats: the kernel exports file, etab, and the Ganesha EXPORT blocks."""

import subprocess

from jetson_farm.inventory import Inventory, NfsConfig
from jetson_farm.nfs import ganesha, kernel
from tests.conftest import make_pillar


def boards(tmp_path, **nfs):
    inventory = Inventory.load(make_pillar(tmp_path, **nfs))
    return inventory.site("site01").nfs, inventory.board("jtk1"), inventory.board("jtk2")


def test_board_options_carry_the_boards_own_fsid_and_drop_a_site_wide_one(tmp_path):
    nfs, jtk1, jtk2 = boards(tmp_path, options=["rw", "fsid=7", "async"])
    assert kernel.board_options(nfs, jtk1) == ["rw", "async", f"fsid={jtk1.fsid}"]
    assert kernel.board_options(nfs, jtk2)[-1] == f"fsid={jtk2.fsid}"
    assert jtk1.fsid != jtk2.fsid


def test_the_exports_file_round_trips_and_quotes_paths_with_spaces():
    entries = {"jtk2": ("/srv/NFS Root2", "*", ["ro", "fsid=2"]),
               "jtk1": ("/srv/NFSRoot1", "10.0.0.0/24", ["rw", "fsid=1"])}
    text = kernel.render_exports_file(entries)
    assert text.splitlines()[2:] == ["/srv/NFSRoot1 10.0.0.0/24(rw,fsid=1)  # board jtk1",
                                     '"/srv/NFS Root2" *(ro,fsid=2)  # board jtk2']
    assert kernel.parse_exports_file(text) == entries


def test_lines_the_farm_did_not_write_are_not_read_as_boards():
    assert kernel.parse_exports_file("/srv/x *(rw)\n# board jtk1\n") == {}


def test_etab_is_read_with_its_octal_escapes():
    text = ("/srv/NFSRoot1\t127.0.0.0/8(rw,sync,fsid=5)\n"
            "/srv/a\\040b\t*(ro,fsid=6)\n/srv/NFSRoot1\t10.0.0.9(ro,fsid=5)\n")
    assert kernel.parse_etab(text) == {"/srv/NFSRoot1": {"127.0.0.0/8": ["rw", "sync", "fsid=5"],
                                                         "10.0.0.9": ["ro", "fsid=5"]},
                                       "/srv/a b": {"*": ["ro", "fsid=6"]}}


def test_exportfs_stderr_with_status_zero_becomes_warnings():
    completed = subprocess.CompletedProcess(["exportfs"], 0, "", "exportfs: Failed to resolve x\n\n")
    assert kernel.warnings_of(completed, "export x") == ["export x: exportfs: Failed to resolve x"]


def test_only_files_in_exports_d_count_as_read_by_exportfs():
    assert kernel.KernelBackend(NfsConfig()).exports_file_is_read()
    for path in ("/etc/exports.d/sub/x.exports", "/etc/exports.d/x.conf", "/srv/x.exports"):
        assert not kernel.KernelBackend(NfsConfig(exports_file=path)).exports_file_is_read()


def test_a_ganesha_block_gives_access_and_squash_to_the_boards_ip_only(tmp_path):
    nfs, jtk1, _ = boards(tmp_path, backend="ganesha", options=["ro", "all_squash", "secure", "anonuid=1000"])
    block = ganesha.render_block(nfs, jtk1)
    assert block.startswith(f"# jetson-board: jtk1\nEXPORT {{\n    Export_Id = {jtk1.export_id};\n")
    for line in (f'Path = "{jtk1.nfsroot}";', f'Pseudo = "{jtk1.nfsroot}";',
                 "\n    Access_Type = None;\n    Squash = All_Squash;\n", "FSAL { Name = VFS; }",
                 "    CLIENT { Clients = 127.0.11.1; Access_Type = RO; Squash = All_Squash; "
                 "PrivilegedPort = true; Anonymous_Uid = 1000; }\n"):
        assert line in block
    assert ganesha.block_clients(block) == ["127.0.11.1"]


def test_the_default_options_give_the_board_a_rw_no_root_squash_client(tmp_path):
    nfs, jtk1, _ = boards(tmp_path, backend="ganesha")
    block = ganesha.render_block(nfs, jtk1)
    assert "CLIENT { Clients = 127.0.11.1; Access_Type = RW; Squash = No_Root_Squash; }" in block
    assert "PrivilegedPort" not in block


def test_the_ganesha_file_round_trips_block_by_block(tmp_path):
    nfs, jtk1, jtk2 = boards(tmp_path, backend="ganesha")
    blocks = {"jtk2": ganesha.render_block(nfs, jtk2), "jtk1": ganesha.render_block(nfs, jtk1)}
    text = ganesha.render_conf(blocks)
    assert text.index("# jetson-board: jtk1") < text.index("# jetson-board: jtk2")
    assert ganesha.parse_conf(text) == blocks
    assert ganesha.parse_conf(ganesha.HEADER) == {}
