"""``salt-run jetson.check``'s reading of each site's exports (jetson_farm/runner/exports.py)."""

from jetson_farm.inventory import Inventory
from jetson_farm.runner.exports import site_problems
from tests.conftest import make_pillar


def entry(path, board=None, known=False, configured=False, active=True, current=False, clients=("10.0.0.9",)):
    return {"board": board, "path": str(path), "clients": list(clients), "options": [], "active": active,
            "configured": configured, "known": known, "current": current}


def site_of(tmp_path):
    inventory = Inventory.load(make_pillar(tmp_path))
    return inventory, inventory.site("site01"), inventory.boards_of_site("site01")


def test_a_pillar_boards_current_export_is_neither_listed_nor_a_problem(tmp_path):
    _, site, boards = site_of(tmp_path)
    jtk1 = boards[0]
    known = entry(jtk1.nfsroot, "jtk1", known=True, configured=True, current=True, clients=[jtk1.ip])
    assert site_problems(site, boards, [known]) == ([], [])


def test_a_pillar_boards_export_to_more_than_its_ip_is_a_problem(tmp_path):
    _, site, boards = site_of(tmp_path)
    wide = entry(boards[0].nfsroot, "jtk1", known=True, configured=True, clients=["127.0.0.0/8"])
    unknown, problems = site_problems(site, boards, [wide])
    assert unknown == []
    assert problems == [f"site01: site01's NFS server exports boards.jtk1's nfsroot {boards[0].nfsroot} to "
                        "127.0.0.0/8, not exactly as the farm does (to its ip only): run jetson_nfs.export "
                        "jtk1 on site01"]


def test_a_leftover_of_the_farm_is_listed_and_a_problem(tmp_path):
    _, site, boards = site_of(tmp_path)
    leftover = entry(tmp_path / "NFSRoot9", "jtk9", configured=True)
    unknown, problems = site_problems(site, boards, [leftover])
    assert unknown == [leftover]
    assert problems == [f"site01: site01's NFS server exports {tmp_path}/NFSRoot9 to 10.0.0.9 for board "
                        "jtk9, which the pillar does not name for that path: a leftover of the farm's; "
                        "withdraw it or give the board back its nfsroot"]


def test_a_foreign_export_is_a_problem_only_around_or_inside_a_root(tmp_path):
    _, site, boards = site_of(tmp_path)
    elsewhere, store, around = entry("/srv/office"), entry(tmp_path / "root" / "images"), entry(tmp_path)
    unknown, problems = site_problems(site, boards, [elsewhere, store, around])
    assert unknown == [elsewhere, store, around]
    assert problems == [
        f"site01: site01's NFS server exports {tmp_path}/root/images to 10.0.0.9, inside the root of "
        f"sites.site01 ({tmp_path}/root): withdraw that export",
        f"site01: site01's NFS server exports {tmp_path} to 10.0.0.9, around the root of sites.site01 "
        f"({tmp_path}/root): withdraw that export"]
