"""jetson_nfs with the kernel backend, through Salt's loader, against the real exportfs.

Each test owns a uniquely named file in /etc/exports.d/ (so ``exportfs -ra`` reads it) and
withdraws every export it made; /etc/exports is never touched.
"""

import concurrent.futures
import copy
import hashlib
import pathlib
import subprocess

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm.inventory import Inventory
from jetson_farm.nfs import backend_for
from tests.conftest import make_pillar
from tests.functional.conftest import kernel_pillar

ETC_EXPORTS = pathlib.Path("/etc/exports")


def exportfs_v():
    """``{path: {client: options}}`` as ``exportfs -v`` prints it (long paths wrap to a new line)."""
    out = subprocess.run(["exportfs", "-v"], capture_output=True, text=True, timeout=30, check=True).stdout
    table, path = {}, None
    for line in out.splitlines():
        if not line.strip():
            continue
        words = line.split()
        if not line[0].isspace():
            path, words = words[0], words[1:]
        for word in words:
            client, _, options = word.partition("(")
            table.setdefault(path, {})[client] = options.rstrip(")").split(",")
    return table


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def pillar(farm_dir, exports_file):
    return kernel_pillar(farm_dir, exports_file)


@pytest.fixture(autouse=True)
def _withdraw_our_exports(farm_dir):
    etc_exports = _digest(ETC_EXPORTS)
    yield
    for path, clients in exportfs_v().items():
        if path.startswith(str(farm_dir)):
            for client in clients:
                subprocess.run(["exportfs", "-u", f"{client}:{path}"], timeout=30, check=False)
    assert _digest(ETC_EXPORTS) == etc_exports, "/etc/exports was modified"


def board(pillar, name="jtk1"):
    return Inventory.load(pillar).board(name)


def test_export_applies_the_board_live_with_its_stable_fsid_and_writes_one_line(modules, pillar,
                                                                                 exports_file):
    jtk1 = board(pillar)
    ret = modules.jetson_nfs.export("jtk1")
    assert ret["changed"] is True
    assert ret["changes"]["live"] == "exported"
    assert ret["changes"]["file"] == f"added in {exports_file}"
    live = exportfs_v()[jtk1.nfsroot]
    assert list(live) == [jtk1.ip]
    assert f"fsid={jtk1.fsid}" in live[jtk1.ip]
    assert {"rw", "no_root_squash", "async", "no_subtree_check"} <= set(live[jtk1.ip])
    assert exports_file.read_text().splitlines()[2:] == [
        f"{jtk1.nfsroot} {jtk1.ip}(rw,insecure,no_subtree_check,async,no_root_squash,"
        f"fsid={jtk1.fsid})  # board jtk1"]
    assert modules.jetson_nfs.is_exported("jtk1") is True
    assert modules.jetson_nfs.is_exported("jtk2") is False


def test_export_twice_changes_nothing_the_second_time(modules, pillar, exports_file):
    modules.jetson_nfs.export("jtk1")
    text = exports_file.read_text()
    again = modules.jetson_nfs.export("jtk1")
    assert again["changed"] is False and again["changes"] == {}
    assert exports_file.read_text() == text


def test_two_boards_keep_distinct_fsids_and_one_line_each(modules, pillar, exports_file):
    modules.jetson_nfs.export("jtk1")
    modules.jetson_nfs.export("jtk2")
    live = exportfs_v()
    fsids = {name: f"fsid={board(pillar, name).fsid}" for name in ("jtk1", "jtk2")}
    assert fsids["jtk1"] != fsids["jtk2"]
    for name in ("jtk1", "jtk2"):
        each = board(pillar, name)
        assert list(live[each.nfsroot]) == [each.ip], "exported to its own board's ip, nobody else"
        assert fsids[name] in live[each.nfsroot][each.ip]
    assert [line.rsplit(" ", 1)[-1] for line in exports_file.read_text().splitlines()[2:]] == ["jtk1", "jtk2"]
    listed = {e["board"]: e for e in modules.jetson_nfs.exports() if e["known"]}
    assert set(listed) == {"jtk1", "jtk2"}
    assert listed["jtk1"]["active"] and listed["jtk1"]["configured"] and listed["jtk1"]["current"]
    assert listed["jtk1"]["clients"] == ["127.0.11.1"]


def test_unexport_withdraws_live_and_from_the_file_then_changes_nothing(modules, pillar, exports_file):
    jtk1 = board(pillar)
    modules.jetson_nfs.export("jtk1")
    modules.jetson_nfs.export("jtk2")
    ret = modules.jetson_nfs.unexport("jtk1")
    assert ret["changes"] == {"live": "unexported from 127.0.11.1", "file": f"removed from {exports_file}"}
    assert jtk1.nfsroot not in exportfs_v()
    assert board(pillar, "jtk2").nfsroot in exportfs_v()
    assert "# board jtk1" not in exports_file.read_text()
    assert modules.jetson_nfs.is_exported("jtk1") is False
    again = modules.jetson_nfs.unexport("jtk1")
    assert again["changed"] is False
    modules.jetson_nfs.unexport("jtk2")
    assert not exports_file.exists(), "the last board's unexport removes the farm's file"


def test_unexport_withdraws_a_client_the_farm_did_not_add(modules, pillar):
    jtk1 = board(pillar)
    subprocess.run(["exportfs", "-o", "ro,fsid=4242", f"127.0.0.7/32:{jtk1.nfsroot}"], timeout=30, check=True)
    assert modules.jetson_nfs.is_exported("jtk1") is True
    ret = modules.jetson_nfs.unexport("jtk1")
    assert ret["changes"]["live"] == "unexported from 127.0.0.7/32"
    assert jtk1.nfsroot not in exportfs_v()


def test_export_replaces_a_stale_client_and_changed_options(modules, loaders, pillar, exports_file):
    jtk1 = board(pillar)
    subprocess.run(["exportfs", "-o", "ro,fsid=4242", f"127.0.0.7/32:{jtk1.nfsroot}"], timeout=30, check=True)
    ret = modules.jetson_nfs.export("jtk1")
    assert ret["changes"]["live"] == "re-exported"
    assert list(exportfs_v()[jtk1.nfsroot]) == [jtk1.ip]
    changed = copy.deepcopy(pillar)
    changed["sites"]["site01"]["nfs"]["options"] = ["ro", "no_subtree_check", "sync"]
    loaders.set_pillar(changed)
    ret = loaders.modules.jetson_nfs.export("jtk1")
    assert ret["changes"] == {"live": "re-exported", "file": f"updated in {exports_file}"}
    assert "ro" in exportfs_v()[jtk1.nfsroot][jtk1.ip]
    assert "(ro,no_subtree_check,sync," in exports_file.read_text()


def test_a_board_ip_that_exportfs_shows_by_name_stays_idempotent(loaders, pillar):
    pillar["boards"]["jtk1"]["ip"] = "127.0.0.1"
    loaders.set_pillar(pillar)
    jtk1 = board(pillar)
    assert loaders.modules.jetson_nfs.export("jtk1")["changes"]["live"] == "exported"
    # exportfs may list one address under another spelling once the same host is exported as
    # localhost (both in /etc/hosts, so no DNS server is asked); the export stays idempotent.
    subprocess.run(["exportfs", "-o", "ro,fsid=4243", f"localhost:{board(pillar, 'jtk2').nfsroot}"],
                   timeout=30, check=True)
    (shown,) = exportfs_v()[jtk1.nfsroot]
    assert shown in ("localhost", "127.0.0.1")
    assert loaders.modules.jetson_nfs.export("jtk1")["changes"] == {}
    ret = loaders.modules.jetson_nfs.unexport("jtk1")
    assert ret["changes"]["live"] == f"unexported from {shown}"
    assert jtk1.nfsroot not in exportfs_v()


def test_reload_rereads_the_farm_file(modules, pillar):
    jtk1 = board(pillar)
    modules.jetson_nfs.export("jtk1")
    subprocess.run(["exportfs", "-u", f"{jtk1.ip}:{jtk1.nfsroot}"], timeout=30, check=True)
    assert modules.jetson_nfs.is_exported("jtk1") is False
    assert modules.jetson_nfs.reload()["reloaded"] is True
    assert f"fsid={jtk1.fsid}" in exportfs_v()[jtk1.nfsroot][jtk1.ip]


def test_a_missing_nfsroot_is_refused_and_nothing_changes(modules, pillar, exports_file):
    jtk1 = board(pillar)
    pathlib.Path(jtk1.nfsroot).rmdir()
    with pytest.raises(CommandExecutionError, match=f"nfsroot {jtk1.nfsroot} is not a directory"):
        modules.jetson_nfs.export("jtk1")
    assert jtk1.nfsroot not in exportfs_v()
    assert not exports_file.exists()


def test_an_exports_file_exportfs_does_not_read_gives_a_warning(loaders, farm_dir, pillar):
    outside = farm_dir / "elsewhere.exports"
    pillar["sites"]["site01"]["nfs"]["exports_file"] = str(outside)
    loaders.set_pillar(pillar)
    ret = loaders.modules.jetson_nfs.export("jtk1")
    assert ret["changes"]["live"] == "exported"
    assert ret["warnings"] == [f"{outside} is not read by 'exportfs -ra' (only /etc/exports and "
                               "/etc/exports.d/*.exports): the export will not survive a reload"]
    assert "# board jtk1" in outside.read_text()


@pytest.mark.parametrize(
    ("name", "message"),
    [("nope", "unknown board 'nope': it is not in the jetson pillar"),
     ("../etc", "invalid board name '../etc'"),
     ("JTK1", "invalid board name 'JTK1'")],
)
def test_bad_board_names_are_refused(modules, pillar, name, message):
    for function in ("export", "unexport", "is_exported", "wait_idle"):
        with pytest.raises(SaltInvocationError, match=message.replace(".", r"\.").replace("(", r"\(")):
            getattr(modules.jetson_nfs, function)(name)
    assert not any(p.startswith(pillar["sites"]["site01"]["root"].rsplit("/", 1)[0]) for p in exportfs_v())


def test_a_board_of_another_site_is_refused(loaders, farm_dir, pillar):
    pillar["sites"]["site02"] = {"minion": "site02", "root": str(farm_dir / "root2")}
    pillar["boards"]["jtk2"]["site"] = "site02"
    loaders.set_pillar(pillar)
    with pytest.raises(SaltInvocationError, match="board 'jtk2' is served by site 'site02', not by this "
                                                  "minion's site 'site01'"):
        loaders.modules.jetson_nfs.export("jtk2")


@pytest.mark.parametrize(
    ("nfs", "message"),
    [({"backend": "nfs9"}, "sites.site01.nfs.backend: 'nfs9' is not one of ('kernel', 'ganesha')"),
     ({"options": "rw,async"}, "sites.site01.nfs.options: 'rw,async' must be a list of NFS options"),
     ({"exports_file": "relative.exports"}, "sites.site01.nfs.exports_file: 'relative.exports' must be "
                                            "an absolute path"),
     ({"network": "a b"}, "sites.site01.nfs.network: 'a b' is not an IPv4 network like '192.168.137.0/24'"),
     ({"clients": "10.0.0.0/8"}, "sites.site01.nfs.clients: renamed to `network`"),
     ({"ganesha_dbus": "tcp:host=evil"}, "sites.site01.nfs.ganesha_dbus: 'tcp:host=evil' must be a DBus "
                                         "address")],
)
def test_a_broken_nfs_section_is_refused_with_what_is_wrong(loaders, farm_dir, pillar, nfs, message):
    pillar["sites"]["site01"]["nfs"].update(nfs)
    loaders.set_pillar(pillar)
    for call in (lambda: loaders.modules.jetson_nfs.export("jtk1"), loaders.modules.jetson_nfs.exports):
        with pytest.raises(CommandExecutionError) as err:
            call()
        assert "invalid jetson inventory" in str(err.value)
        assert message in str(err.value)
    assert board(make_pillar(farm_dir)).nfsroot not in exportfs_v()


def test_boards_exported_in_parallel_all_keep_their_line(farm_dir, exports_file):
    names = [f"b{i}" for i in range(8)]
    inventory = Inventory.load(make_pillar(farm_dir, boards=names, exports_file=str(exports_file)))
    for name in names:
        pathlib.Path(inventory.board(name).nfsroot).mkdir()
    backend = backend_for(inventory.site("site01").nfs)
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(backend.export, [inventory.board(name) for name in names]))
    assert all(r.changes["live"] == "exported" for r in results)
    assert sorted(backend.configured()) == names
    live = exportfs_v()
    assert all(inventory.board(name).nfsroot in live for name in names)


def test_an_export_made_by_hand_to_the_whole_network_is_withdrawn_by_the_next_export(modules, pillar):
    jtk1 = board(pillar)
    subprocess.run(["exportfs", "-o", "rw,no_root_squash,fsid=4244", f"127.0.0.0/8:{jtk1.nfsroot}"],
                   timeout=30, check=True)
    assert not next(e for e in modules.jetson_nfs.exports() if e["path"] == jtk1.nfsroot)["current"]
    assert modules.jetson_nfs.export("jtk1")["changes"]["live"] == "re-exported"
    assert list(exportfs_v()[jtk1.nfsroot]) == [jtk1.ip]


def test_exports_the_pillar_does_not_know_are_listed_and_marked(modules, pillar, farm_dir, exports_file):
    modules.jetson_nfs.export("jtk1")
    leftover, by_hand = farm_dir / "NFSRoot9", farm_dir / "elsewhere"
    leftover.mkdir()
    by_hand.mkdir()
    # A retired board's line left in the farm's file and live, and an export the farm never made.
    with exports_file.open("a") as lines:
        lines.write(f"{leftover} 127.0.19.1(rw,fsid=4245)  # board jtk9\n")
    subprocess.run(["exportfs", "-o", "rw,fsid=4245", f"127.0.19.1:{leftover}"], timeout=30, check=True)
    subprocess.run(["exportfs", "-o", "ro,fsid=4246", f"127.0.0.9:{by_hand}"], timeout=30, check=True)
    listed = {e["path"]: e for e in modules.jetson_nfs.exports()}
    assert listed[str(leftover)] | {"options": None} == {
        "board": "jtk9", "path": str(leftover), "clients": ["127.0.19.1"], "options": None,
        "active": True, "configured": True, "known": False, "current": False}
    assert listed[str(by_hand)]["board"] is None
    assert (listed[str(by_hand)]["known"], listed[str(by_hand)]["configured"]) == (False, False)
    assert listed[board(pillar).nfsroot]["known"] is True
