"""The inventory is refused as a whole, with every broken rule named."""

import pytest

from jetson_farm import nfsroots
from jetson_farm.errors import InvalidName, InventoryError, NotAllowed, NotFound
from jetson_farm.inventory import Inventory
from jetson_farm.names import check_name, parse_image
from jetson_lab.config import LabConfig
from jetson_lab.seed import lab_pillar
from tests.conftest import make_pillar
from tests.inventory_cases import ISOLATION_CASES, SYSTEM_FOLDER_CASES


@pytest.mark.parametrize("bad", ["..", "a/b", "a b", "a;rm -rf /", "$(id)", "A", "", "-x", ".hidden",
                                 "a" * 64, "jtk1\n", None, 7])
def test_bad_names_are_refused_with_the_rule(bad):
    with pytest.raises(InvalidName, match=r"invalid board name .* must match"):
        check_name("board", bad)


@pytest.mark.parametrize("good", ["jtk1", "l4t-r21.8", "a", "a_b", "0" * 63])
def test_good_names_pass(good):
    assert check_name("image", good) == good


@pytest.mark.parametrize("bad", ["alice", "alice/../bob", "alice/cuda/dev", "/etc", "alice/", "../x"])
def test_bad_image_refs(bad):
    with pytest.raises(InvalidName):
        parse_image(bad)


def test_the_example_inventory_is_valid(tmp_path):
    inventory = Inventory.load(make_pillar(tmp_path))
    assert sorted(inventory.boards) == ["jtk1", "jtk2"]
    board = inventory.board("jtk1")
    assert board.nfsroot == str(tmp_path / "NFSRoot1")
    assert board.power["driver"] == "lab"
    assert board.down_timeout == 10
    assert inventory.site_of_minion("site01").root == str(tmp_path / "root")


def test_a_sites_silent_timeout_is_its_own_or_30_seconds(tmp_path):
    pillar = make_pillar(tmp_path)
    assert Inventory.load(pillar).sites["site01"].silent_timeout == 30
    pillar["sites"]["site01"]["silent_timeout"] = 6
    assert Inventory.load(pillar).sites["site01"].silent_timeout == 6


@pytest.mark.parametrize("bad", [0, -1, 2.5, "soon"])
def test_a_silent_timeout_that_is_no_positive_number_of_seconds_is_refused(tmp_path, bad):
    pillar = make_pillar(tmp_path)
    pillar["sites"]["site01"]["silent_timeout"] = bad
    assert Inventory(pillar).problems() == [
        f"sites.site01.silent_timeout: {bad!r} must be a positive number of seconds"]


def test_stable_ids_do_not_change_between_loads(tmp_path):
    first = Inventory.load(make_pillar(tmp_path)).board("jtk1")
    again = Inventory.load(make_pillar(tmp_path)).board("jtk1")
    assert (first.fsid, first.export_id) == (again.fsid, again.export_id)
    assert 100 <= first.export_id <= 65535


def test_every_broken_rule_is_named(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["boards"]["jtk1"]["ip"] = "not-an-ip"
    pillar["boards"]["jtk2"]["nfsroot"] = "/srv/../etc"
    pillar["boards"]["jtk2"]["site"] = "nowhere"
    pillar["boards"]["bad board"] = {}
    pillar["users"]["alice"]["ssh_keys"] = ["ssh-ed25519 AAAA\nrm -rf /"]
    pillar["sites"]["site01"]["nfs"]["backend"] = "samba"
    pillar["timezone"] = "Mars/Olympus"
    with pytest.raises(InventoryError) as err:
        Inventory.load(pillar)
    problems = "\n".join(err.value.problems)
    for expected in ("boards.jtk1.ip: 'not-an-ip' is not an IPv4 address",
                     "boards.jtk2.nfsroot: '/srv/../etc' must be a normalised path without '..'",
                     "boards.jtk2.site: 'nowhere' is not a site of this inventory",
                     "boards.bad board: invalid board name",
                     "users.alice.ssh_keys[0]: not one OpenSSH public key line",
                     "sites.site01.nfs.backend: 'samba' is not one of",
                     "timezone: 'Mars/Olympus' is not a known time zone"):
        assert expected in problems


def test_two_boards_on_one_nfsroot_are_refused(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["boards"]["jtk2"]["nfsroot"] = pillar["boards"]["jtk1"]["nfsroot"]
    assert any("is also boards.jtk1's" in p for p in Inventory(pillar).problems())


def test_a_pillar_that_is_not_a_mapping_is_refused():
    with pytest.raises(InventoryError, match="the jetson pillar must be a mapping"):
        Inventory.load(["boards"])


def test_unknown_board_and_user(tmp_path):
    inventory = Inventory.load(make_pillar(tmp_path))
    with pytest.raises(NotFound, match="unknown board 'jtk9'"):
        inventory.board("jtk9")
    with pytest.raises(NotFound, match="unknown user 'mallory'"):
        inventory.user("mallory")
    with pytest.raises(InvalidName):
        inventory.board("../jtk1")


def test_who_may_boot_what(tmp_path):
    inventory = Inventory.load(make_pillar(tmp_path))
    inventory.may_boot("alice", "alice/cuda-dev")
    inventory.may_boot("alice", "admin/l4t-base")  # shared with everyone
    inventory.may_boot("admin", "bob/ros")  # admins may boot anything
    with pytest.raises(NotAllowed, match="user 'alice' may not boot 'bob/ros': it is bob's and not shared"):
        inventory.may_boot("alice", "bob/ros")


def test_sharing_with_named_users(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["images"]["bob/ros"] = {"shared": ["alice"]}
    inventory = Inventory.load(pillar)
    inventory.may_boot("alice", "bob/ros")
    pillar["users"]["carol"] = {"email": "carol@example.org"}
    with pytest.raises(NotAllowed):
        Inventory.load(pillar).may_boot("carol", "bob/ros")


@pytest.mark.parametrize(("path", "value"), [
    (("boards", "jtk1", "mac"), "00:04:4b:00:00:01\n"),
    (("users", "bob", "email"), "bob@example.org\nBcc: all@example.org"),
    (("sites", "site01", "nfs", "network"), "127.0.0.0/8\n"),
])
def test_a_trailing_newline_never_slips_through(tmp_path, path, value):
    pillar = make_pillar(tmp_path)
    node = pillar
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert Inventory(pillar).problems(), f"{'.'.join(path)} = {value!r} was accepted"


def test_the_shipped_example_pillar_is_valid():
    import yaml

    from tests.conftest import SALT_DIR

    example = yaml.safe_load((SALT_DIR / "pillar" / "jetson.sls").read_text())["jetson"]
    inventory = Inventory.load(example)
    assert inventory.board("jtk1").nfsroot == "/NFSRoot1"
    assert inventory.site("site01").address == "192.168.137.130"


@pytest.mark.parametrize(("case", "change", "problem"), ISOLATION_CASES, ids=[c[0] for c in ISOLATION_CASES])
def test_each_board_has_its_own_address_and_root_apart_from_the_site_root(tmp_path, case, change, problem):
    pillar = make_pillar(tmp_path)
    root = pillar["sites"]["site01"]["root"]
    change(pillar, root)
    problems = Inventory(pillar).problems()
    assert problem.format(farm=tmp_path, root=root) in "\n".join(problems), problems


@pytest.mark.parametrize("folder", SYSTEM_FOLDER_CASES)
def test_an_nfsroot_that_is_a_system_folder_is_refused(tmp_path, folder):
    pillar = make_pillar(tmp_path)
    pillar["boards"]["jtk2"]["nfsroot"] = folder
    problem = f"boards.jtk2.nfsroot: {folder} is a system folder of the site server"
    assert problem in Inventory(pillar).problems()


@pytest.mark.parametrize("spelling", ["/", "//etc", "/etc/", "/etc/.", "/usr//", "/var/lib/../lib"])
def test_a_system_folder_spelt_otherwise_is_refused_too(tmp_path, spelling):
    pillar = make_pillar(tmp_path)
    pillar["boards"]["jtk2"]["nfsroot"] = spelling
    assert any(p.startswith("boards.jtk2.nfsroot: ") for p in Inventory(pillar).problems()), spelling


def test_system_folders_are_compared_normalised():
    assert all(nfsroots.is_system_folder(path) for path in ("//etc", "/etc/.", "/etc/", "/usr/./local"))
    assert not nfsroots.is_system_folder("/srv/NFSRoot1")
    assert not nfsroots.is_system_folder("/var/tmp/jetson-farm-tests/x/NFSRoot1")


def test_boards_of_two_sites_may_share_an_address_and_an_nfsroot(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["sites"]["site02"] = {"minion": "site02", "root": str(tmp_path / "root2"),
                                 "nfs": {"network": "127.0.0.0/8"}}
    pillar["boards"]["jtk2"].update(site="site02", ip=pillar["boards"]["jtk1"]["ip"],
                                    nfsroot=pillar["boards"]["jtk1"]["nfsroot"])
    assert Inventory(pillar).problems() == []


def test_the_old_clients_key_is_refused_with_its_new_name(tmp_path):
    pillar = make_pillar(tmp_path)
    pillar["sites"]["site01"]["nfs"]["clients"] = "127.0.0.0/8"
    assert Inventory(pillar).problems() == [
        "sites.site01.nfs.clients: renamed to `network`: each nfsroot is exported to its own board's ip "
        "only, and `network` is the range every board's ip of the site must fall inside"]


@pytest.mark.parametrize("bad", ["127.0.0.1/8", "10.0.0.0/33", "*", "10.0.0.0/8\n"])
def test_a_network_that_is_not_one_is_refused(tmp_path, bad):
    pillar = make_pillar(tmp_path)
    pillar["sites"]["site01"]["nfs"]["network"] = bad
    assert any(p.startswith(f"sites.site01.nfs.network: {bad!r} is not an IPv4 network")
               for p in Inventory(pillar).problems())


def test_the_labs_pillar_is_valid_with_process_and_vm_boards_on_two_sites(tmp_path):
    config = LabConfig(name="t", dir=str(tmp_path), boards=["jtk1", "jtk2", "jtk3", "jtk4"], tag="abcd",
                       subnet_octet=7, vm_boards=["vm1"], sites=2)
    pillar = lab_pillar(config)
    assert Inventory(pillar).problems() == []
    assert pillar["sites"]["site02"]["nfs"]["network"] == "10.213.7.0/24"
