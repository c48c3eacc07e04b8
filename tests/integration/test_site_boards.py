"""`state.apply jetson.site` and the site's boards, through a real master (with the enrol reactor),
the real site minion and the kernel's exportfs."""

import hashlib
import json
import pathlib

from tests.integration.site_env import exported_paths, site_farm, state_of, wait_accepted  # noqa: F401


def pem_of(farm, board):
    return (farm.dir / "root" / "boards" / board / "identity" / "minion.pub").read_text().strip()


def test_apply_twice_changes_nothing_the_second_time_and_test_changes_nothing(site_farm):  # noqa: F811
    farm = site_farm
    would = farm.salt("state.apply", "jetson.site", test=True)
    assert would.returncode == 0, would
    assert state_of(would, "jetson-boards")["result"] is None
    assert not (farm.dir / "root").exists()
    assert not {p for p in exported_paths() if p.startswith(str(farm.dir))}

    first = farm.salt("state.apply", "jetson.site")
    assert first.returncode == 0, first
    assert set(state_of(first, "jetson-boards")["changes"]) == {"jtk1", "jtk2"}
    wait_accepted(farm.master, ["jtk1", "jtk2"])
    keys = pathlib.Path(farm.master.config["pki_dir"]) / "minions"
    assert (keys / "jtk1").read_text().strip() == pem_of(farm, "jtk1")

    second = farm.salt("state.apply", "jetson.site")
    assert second.returncode == 0, second
    assert {k: v["changes"] for k, v in second.data.items() if v["changes"]} == {}
    again = farm.salt("state.apply", "jetson.site", test=True)
    assert {k: v["changes"] for k, v in again.data.items() if v["changes"]} == {}


def test_a_board_added_to_pillar_gets_an_nfsroot_an_export_and_an_accepted_key(site_farm):  # noqa: F811
    farm = site_farm
    assert farm.salt("state.apply", "jetson.site").returncode == 0
    farm.pillar["boards"]["jtk3"] = dict(farm.pillar["boards"]["jtk2"], minion="jtk3", ip="127.0.13.1",
                                         mac="00:04:4b:00:00:03", nfsroot=str(farm.dir / "NFSRoot3"))
    farm.pillar["sites"]["site01"]["address"] = "192.168.137.1"
    farm.apply_pillar()

    ret = farm.salt("state.apply", "jetson.site")
    assert ret.returncode == 0, ret
    changes = state_of(ret, "jetson-boards")["changes"]
    assert list(changes) == ["jtk3"]
    assert (changes["jtk3"]["record"], changes["jtk3"]["identity"]) == ("recorded", "minion key pair made")
    assert changes["jtk3"]["export"]["live"] == "exported"
    assert (farm.dir / "NFSRoot3").is_dir()
    exports = farm.salt("jetson_nfs.exports")
    assert {e["board"] for e in exports.data if e["active"] and e["configured"]} == {"jtk1", "jtk2", "jtk3"}
    wait_accepted(farm.master, ["jtk3"])
    keys = pathlib.Path(farm.master.config["pki_dir"]) / "minions"
    assert (keys / "jtk3").read_text().strip() == pem_of(farm, "jtk3")

    flash = farm.master.salt_run_cli(timeout=120).run("jetson.flash_command", "board=jtk3")
    assert flash.returncode == 0, flash
    assert flash.stdout.strip() == (f"sudo ./flash.sh -N 192.168.137.1:{farm.dir / 'NFSRoot3'} "
                          "-n 127.0.13.1:192.168.137.1:192.168.137.1:255.255.255.0 jetson-tk1 eth0")


def test_the_master_accepts_only_boards_of_the_sending_site(site_farm):  # noqa: F811
    farm = site_farm
    ret = farm.master.salt_run_cli(timeout=120).run("jetson.enroll_site", "site_minion=jtk1",
                                                    "boards=[jtk1]")
    assert ret.returncode == 1, ret
    assert "minion 'jtk1' is not the site server of any site in the pillar" in ret.stdout
    farm.pillar["sites"]["site02"] = dict(farm.pillar["sites"]["site01"], minion="site02",
                                          root=str(farm.dir / "root2"))
    farm.pillar["boards"]["jtk2"]["site"] = "site02"
    farm.apply_pillar()
    ret = farm.master.salt_run_cli(timeout=120).run("jetson.enroll_site", "site_minion=site01",
                                                    "boards=[jtk2]")
    assert ret.returncode == 1, ret
    assert "board jtk2 is served by site site02, not by site01" in ret.stdout
    assert not (pathlib.Path(farm.master.config["pki_dir"]) / "minions" / "jtk2").exists()


def manifest(folder):
    """``{relative path: sha256}`` of every regular file under ``folder``."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_a_board_removed_from_pillar_is_parked_and_unexported_unless_mid_switch(site_farm):  # noqa: F811
    farm = site_farm
    assert farm.salt("state.apply", "jetson.site").returncode == 0
    slot = farm.dir / "root" / "images" / "alice" / "cuda-dev"
    (slot / "etc").mkdir(parents=True)
    (slot / "etc" / "hostname").write_text("alice-box\n")
    (slot / "work.txt").write_text("alice's results\n")
    before = manifest(slot)
    for fun, args in (("jetson_nfs.unexport", ["jtk2"]), ("jetson_rootfs.swap", ["jtk2", "alice/cuda-dev"]),
                      ("jetson_nfs.export", ["jtk2"])):
        ret = farm.salt(fun, *args)
        assert ret.returncode == 0, ret
    journal = farm.dir / "root" / "state" / "jtk2.json"
    settled = journal.read_text()
    journal.write_text(json.dumps(dict(json.loads(settled), operation={
        "kind": "swap", "phase": "inject", "current": None, "target": "alice/cuda-dev",
        "started": "2026-11-30T05:00:00+00:00"})))
    del farm.pillar["boards"]["jtk2"]
    farm.apply_pillar()

    refused = farm.salt("state.apply", "jetson.site")
    assert refused.returncode != 0
    assert "board jtk2 is in the middle of a swap (phase inject" in \
        state_of(refused, "jetson-retired-boards")["comment"]
    assert str(farm.dir / "NFSRoot2") in exported_paths()

    journal.write_text(settled)  # the switch finished
    ret = farm.salt("state.apply", "jetson.site")
    assert ret.returncode == 0, ret
    done = state_of(ret, "jetson-retired-boards")["changes"]["jtk2"]
    assert done["parked"] == "alice/cuda-dev back in its owner's slot"
    assert manifest(slot) == before
    assert str(farm.dir / "NFSRoot2") not in exported_paths()
    assert (pathlib.Path(done["attic"]) / "identity" / "minion.pem").is_file()
    again = farm.salt("state.apply", "jetson.site")
    assert {k: v["changes"] for k, v in again.data.items() if v["changes"]} == {}
