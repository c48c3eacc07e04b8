"""A lab with two site servers: who serves which board, each site's paths and address, its
pillar, and the refusals of ``jetson-lab up`` (no daemon started)."""

import pytest

from jetson_farm.inventory import Inventory
from jetson_lab import farm, seed
from jetson_lab.config import LabConfig
from jetson_lab.errors import LabError
from jetson_lab.supervisor import Supervisor, ganesha_for


def lab(tmp_path, boards=4, sites=2, vm_boards=()):
    config = LabConfig(name="unit", dir=str(tmp_path), boards=[f"jtk{i}" for i in range(1, boards + 1)],
                       tag="beef", subnet_octet=77, sites=sites, vm_boards=list(vm_boards))
    config.write()
    return config


def test_one_site_keeps_the_one_site_paths(tmp_path):
    config = lab(tmp_path, boards=3, sites=1)
    assert config.site_names == ["site01"]
    assert {config.site_of(b) for b in config.boards} == {"site01"}
    assert config.minion_dir("site01") == config.site_dir == tmp_path / "site01"
    assert config.site_root_of("site01") == config.site_root == tmp_path / "site"
    assert config.ganesha_dir_of("site01") == config.ganesha_dir
    assert config.site_address("site01") == config.network.bridge_addr == "10.213.77.1"
    assert LabConfig.read(config.dir).sites == 1


def test_boards_are_shared_out_in_blocks_and_vm_boards_stay_on_site01(tmp_path):
    config = lab(tmp_path, boards=5, vm_boards=["jvm1"])
    assert {b: config.site_of(b) for b in config.all_boards} == {
        "jtk1": "site01", "jtk2": "site01", "jtk3": "site01", "jtk4": "site02", "jtk5": "site02",
        "jvm1": "site01"}
    assert config.boards_of("site02") == ["jtk4", "jtk5"]
    assert config.site_address("site02") == "10.213.77.2"
    assert config.site_root_of("site02") == tmp_path / "sites" / "site02" / "root"
    assert config.ganesha_dir_of("site02") == tmp_path / "sites" / "site02" / "ganesha"


def test_each_site_has_its_own_store_ganesha_and_boards_in_pillar(tmp_path):
    config = lab(tmp_path)
    dbus = {site: ganesha_for(config, site).dbus_address for site in config.site_names}
    pillar = seed.lab_pillar(config, dbus)
    inventory = Inventory.load(pillar)
    site01, site02 = inventory.site("site01"), inventory.site("site02")
    assert (site01.root, site02.root) == (str(config.site_root), str(config.site_root_of("site02")))
    assert (site01.address, site02.address) == ("10.213.77.1", "10.213.77.2")
    assert site02.nfs.ganesha_conf == str(tmp_path / "sites" / "site02" / "ganesha" / "jetson.conf")
    assert pillar["sites"]["site02"]["nfs"]["ganesha_dbus"] == dbus["site02"] != dbus["site01"]
    assert {b.name: b.site for b in inventory.boards.values()} == {
        "jtk1": "site01", "jtk2": "site01", "jtk3": "site02", "jtk4": "site02"}
    # A board's default image is in its own site's store; the seed images are in both.
    assert "admin/l4t-base-jtk3" in seed.seed_images(config, "site02")
    assert "admin/l4t-base-jtk3" not in seed.seed_images(config, "site01")
    assert set(seed.SEED_IMAGES) <= set(seed.seed_images(config, "site02"))
    seed.write_pillar(config, pillar)
    top = (config.pillar_dir / "top.sls").read_text()
    assert "'site01':" in top and "'site02':" in top and "jtk" not in top


def test_each_board_boots_from_its_own_sites_address(tmp_path):
    config = lab(tmp_path)
    boards = Supervisor(config).boards
    assert {name: board.server for name, board in boards.items()} == {
        "jtk1": "10.213.77.1", "jtk2": "10.213.77.1", "jtk3": "10.213.77.2", "jtk4": "10.213.77.2"}


@pytest.mark.parametrize(("boards", "sites", "message"), [
    (4, 0, "a lab has 1 to 9 sites, not 0"),
    (4, 10, "a lab has 1 to 9 sites, not 10"),
    (1, 2, "2 sites need at least 2 boards, not 1"),
])
def test_up_refuses_a_site_count_it_cannot_build(tmp_path, boards, sites, message):
    with pytest.raises(LabError, match=message):
        farm.load_or_create(str(tmp_path / "lab"), boards, sites=sites)
