"""A user root on board jtk2 forges signals with nothing but its own minion (issue 16, item 4):
none of them may make another board's switch succeed or the master enroll a board (rule 6).

Each forgery is what a board can send: ``salt jtk2 event.fire_master`` with ``preload``
holding the ``events`` form, where tag and data (``id`` included) are the sender's to write.
- a start event of jtk1 carrying this switch's marker, while jtk1 cannot boot;
- a return of jtk1 to the engine's own ``grains.get`` job, while jtk1 cannot boot;
- the same return sent as a raw ``_return`` request with jtk2's key naming jtk1 as its
  ``resource_id``, which Salt stores in its job cache as jtk1's;
- ``jetson/site/enroll`` as if from site01, after ``salt-key -d jtk3``.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from tests.lab_fixture import BIN, lab  # noqa: F401
from tests.switch_helpers import EventWatch, sessions, start_orchestrate, state_of, where_images

IMAGE = "alice/cuda-dev"
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def rig(lab):  # noqa: F811
    watch = EventWatch(lab, prefixes=("jetson/", "salt/job/", "salt/run/"))
    saved = lab.pillar
    yield lab, watch
    watch.close()
    lab.write_pillar(saved)


def forge(farm, tag, data):
    """jtk2's own minion fires ``tag`` with ``data`` on the master's bus (the ``events`` form)."""
    preload = {"events": [{"tag": tag, "data": data}]}
    result = farm.salt(["jtk2", "event.fire_master", "{}", "jetson/forged", f"preload={json.dumps(preload)}"])
    assert result.returncode == 0 and result.of("jtk2") is True, result


def marker_of(lease):
    """The marker jtk1 would report if it had booted this switch (jtk2 reads it over NFS)."""
    return {"board": "jtk1", "image": IMAGE, "user": "alice", "switch_id": lease["switch_id"]}


def switch_a_board_that_cannot_boot(farm, watch, forgery):
    """Switch jtk1 (fault ``no_boot``, 20 s boot_timeout) to IMAGE; ``forgery(lease)`` runs once
    step 6 is done. The switch must fail and roll back as for a board that never came up."""
    pillar = farm.pillar
    pillar["boards"]["jtk1"].update(boot_timeout=20, down_timeout=10)
    farm.write_pillar(pillar)
    farm.fault("jtk1", "no_boot")
    try:
        run = start_orchestrate(farm, "jetson.switch", {"board": "jtk1", "image": IMAGE})
        lease = watch.wait_for("jetson/switch/jtk1/lease")
        watch.wait_for("jetson/switch/jtk1/start")
        forgery(lease)
        stdout, _ = run.communicate(timeout=600)
        assert run.returncode != 0, stdout[-3000:]
        assert f"jtk1 did not come back on {IMAGE} within 20s" in stdout, stdout[-3000:]
        assert "board quarantined" in stdout
        assert [d for d in watch.data("jetson/switch/jtk1/verify") if d["result"] == "ok"] == []
        assert "jetson/board/jtk1/ready" not in watch.tags()
        assert watch.wait_for("jetson/board/jtk1/failed")["step"] == "verify"
        assert where_images(farm)[IMAGE] == ["store"]
        assert state_of(farm, "jtk1")["image"] != IMAGE
        assert sessions(farm, "jtk1")[-1]["outcome"] == "failed"
    finally:
        farm.fault("jtk1", "clear")
        farm.salt_run(["jetson.unquarantine", "board=jtk1"])
    farm.power("jtk1", "cycle")
    farm.wait_up("jtk1")


def test_a_forged_start_event_with_the_marker_does_not_bring_a_board_up(rig):
    farm, watch = rig

    def forgery(lease):
        forge(farm, "salt/minion/jtk1/start",
              {"id": "jtk1", "cmd": "_minion_event", "grains": {"jetson_marker": marker_of(lease)}})

    switch_a_board_that_cannot_boot(farm, watch, forgery)


def test_a_forged_return_to_the_engines_marker_question_is_ignored(rig):
    farm, watch = rig

    def forgery(lease):
        job = watch.wait_for_job("grains.get", minion="jtk1")
        forge(farm, f"salt/job/{job['jid']}/ret/jtk1",
              {"jid": job["jid"], "id": "jtk1", "cmd": "_return", "fun": "grains.get",
               "fun_args": ["jetson_marker"], "return": marker_of(lease), "retcode": 0, "success": True})

    switch_a_board_that_cannot_boot(farm, watch, forgery)


def test_a_return_filed_under_jtk1_by_resource_id_does_not_bring_it_up(rig):
    farm, watch = rig

    def forgery(lease):
        job = watch.wait_for_job("grains.get", minion="jtk1")
        load = {"jid": job["jid"], "resource_id": "jtk1", "fun": "grains.get", "fun_args": ["jetson_marker"],
                "return": marker_of(lease), "retcode": 0, "success": True}
        sent = subprocess.run(["ip", "netns", "exec", farm.config.network.netns("jtk2"), sys.executable,
                               "-m", "tests.forge_return", str(farm.config.run_dir("jtk2") / "etc" / "salt"),
                               json.dumps(load)], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stderr[-2000:]
        stored = farm._run([BIN / "salt-run", "-c", farm.master_dir, "--out=json", "jobs.lookup_jid",
                            job["jid"]], 60)
        assert stored.data.get("jtk1") == marker_of(lease), stored  # Salt filed it as jtk1's

    switch_a_board_that_cannot_boot(farm, watch, forgery)


def accepted(farm):
    result = farm._run([BIN / "salt-key", "-c", farm.master_dir, "-L", "--out=json"], 60)
    assert result.returncode == 0, result
    return result.data["minions"]


def test_a_forged_enrol_request_does_not_accept_a_deleted_key(rig):
    farm, watch = rig
    deleted = farm._run([BIN / "salt-key", "-c", farm.master_dir, "-d", "jtk3", "-y"], 60)
    assert deleted.returncode == 0, deleted
    try:
        assert "jtk3" not in accepted(farm)
        forge(farm, "jetson/site/enroll", {"id": "site01", "data": {"boards": ["jtk3"]}})
        ran = watch.wait_for_run("runner.jetson.enroll_site")
        assert "site site01 (site01) has no pending enrolment request" in json.dumps(ran["return"]), ran
        assert ran["return"].get("retcode") == 1, ran
        assert "jtk3" not in accepted(farm)
    finally:
        enrolled = farm.salt_run(["jetson.enroll", "board=jtk3"])
    assert enrolled.returncode == 0, enrolled
    farm.wait_up("jtk3")
