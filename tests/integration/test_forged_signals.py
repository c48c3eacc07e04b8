"""A user root on board jtk2 forges signals with nothing but its own minion (issue 16, item 4):
none of them may make another board's switch succeed or the master enroll a board (rule 6).

Each forgery is what a board can send: ``salt jtk2 event.fire_master`` with ``preload``
holding the ``events`` form, where tag and data (``id`` included) are the sender's to write.
- a start event of jtk1 carrying this switch's marker, while jtk1 cannot boot;
- a return of jtk1 to the engine's own ``grains.get`` job, while jtk1 cannot boot;
- the same return sent as a raw ``_return`` request with jtk2's key naming jtk1 as its
  ``resource_id``, which Salt stores in its job cache as jtk1's;
- ``jetson/site/enroll`` as if from site01, after ``salt-key -d jtk3``.

The first three land in one switch of jtk1, each shown to have reached the master before the
engine gave up on jtk1 (a short ``boot_timeout`` in the test's own pillar): a forgery that came
too late to be taken proves nothing, and the test fails naming it.
"""

import json
import pathlib
import subprocess
import sys

import pytest
import salt.client
import salt.config

from tests.lab_fixture import BIN, lab  # noqa: F401
from tests.switch_helpers import EventWatch, sessions, start_orchestrate, state_and_images, together

IMAGE = "alice/cuda-dev"
# jtk1's, in the test's pillar. The forgeries are sent as soon as step 6 is done and as soon as
# the engine asks jtk1 for its marker (events, not clocks); this leaves them seconds to land.
BOOT_TIMEOUT = 8
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def rig(lab):  # noqa: F811
    watch = EventWatch(lab, prefixes=("jetson/", "salt/job/", "salt/run/", "salt/minion/"))
    saved = lab.pillar
    yield lab, watch
    watch.close()
    lab.write_pillar(saved)


def forge(farm, tag, data):
    """jtk2's own minion fires ``tag`` with ``data`` on the master's bus (the ``events`` form),
    in a job sent from this process: the forgery lands within a fraction of a second."""
    client = salt.client.LocalClient(mopts=salt.config.master_config(str(farm.master_dir / "master")))
    try:
        answer = client.cmd("jtk2", "event.fire_master", [{}, "jetson/forged"],
                            kwarg={"preload": {"events": [{"tag": tag, "data": data}]}}, timeout=60,
                            full_return=True)
    finally:
        client.destroy()
    assert (answer.get("jtk2") or {}).get("ret") is True, answer


def marker_of(lease):
    """The marker jtk1 would report if it had booted this switch (jtk2 reads it over NFS)."""
    return {"board": "jtk1", "image": IMAGE, "user": "alice", "switch_id": lease["switch_id"]}


def ready_to_forge_a_return(farm):
    """``tests.forge_return`` in jtk2's namespace with jtk2's key, started ahead (Salt imported):
    it sends the ``_return`` load written to its stdin."""
    return subprocess.Popen(["ip", "netns", "exec", farm.config.network.netns("jtk2"), sys.executable, "-m",
                             "tests.forge_return", str(farm.config.run_dir("jtk2") / "etc" / "salt")],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def first(watch, match, since=0):
    """The number of the first event of ``watch`` from ``since`` on for which ``match(tag, data)``."""
    return next((i for i, (tag, data) in enumerate(watch.events) if i >= since and match(tag, data)), None)


def job_of(fun):
    return lambda tag, data: tag.startswith("salt/job/") and tag.endswith("/new") and data.get("fun") == fun


def test_forged_start_event_and_returns_do_not_bring_up_a_board_that_cannot_boot(rig):
    farm, watch = rig
    pillar = farm.pillar
    pillar["boards"]["jtk1"].update(boot_timeout=BOOT_TIMEOUT, down_timeout=10)
    farm.write_pillar(pillar)
    farm.fault("jtk1", "no_boot")
    forger = ready_to_forge_a_return(farm)
    try:
        run = start_orchestrate(farm, "jetson.switch", {"board": "jtk1", "image": IMAGE})
        lease = watch.wait_for("jetson/switch/jtk1/lease")
        watch.wait_for("jetson/switch/jtk1/start")
        started = watch.tags().index("jetson/switch/jtk1/start")
        # A start event of jtk1 with this switch's marker in its grains: it may prompt a question.
        forge(farm, "salt/minion/jtk1/start",
              {"id": "jtk1", "cmd": "_minion_event", "grains": {"jetson_marker": marker_of(lease)}})
        job = watch.wait_for_job("grains.get", minion="jtk1", since=started)
        # A return of jtk1 to the engine's question, fired: never stored in the job cache.
        forge(farm, f"salt/job/{job['jid']}/ret/jtk1",
              {"jid": job["jid"], "id": "jtk1", "cmd": "_return", "fun": "grains.get",
               "fun_args": ["jetson_marker"], "return": marker_of(lease), "retcode": 0, "success": True})
        # The same return as a raw _return with jtk2's key and resource_id jtk1: stored as jtk1's.
        load = {"jid": job["jid"], "resource_id": "jtk1", "fun": "grains.get", "fun_args": ["jetson_marker"],
                "return": marker_of(lease), "retcode": 0, "success": True}
        _, err = forger.communicate(json.dumps(load), timeout=120)
        assert forger.returncode == 0, err[-2000:]
        # The engine gives up on jtk1 (its rollback's first job): jtk1 boots its previous image, as
        # a board does that cannot boot the one it was given.
        watch.wait_for_job("jetson_power.stop_many", minion="site01", since=started)
        farm.fault("jtk1", "clear")
        stdout, _ = run.communicate(timeout=600)
        assert run.returncode != 0, stdout[-3000:]
        assert f"jtk1 did not come back on {IMAGE} within {BOOT_TIMEOUT}s" in stdout, stdout[-3000:]
        assert "board quarantined" in stdout

        # Each forgery reached the master before the engine gave up on jtk1, and the stored one
        # was read by the engine and refused (no connection from jtk1's address).
        gave_up = first(watch, job_of("jetson_power.stop_many"), since=started)
        forged_start = first(watch, lambda tag, data: tag == "salt/minion/jtk1/start"
                             and (data.get("grains") or {}).get("jetson_marker") == marker_of(lease))
        forged_return = first(watch, lambda tag, data: tag == f"salt/job/{job['jid']}/ret/jtk1")
        assert None not in (forged_start, forged_return) and max(forged_start, forged_return) < gave_up, (
            f"a forgery came too late to be taken (start event #{forged_start}, return #{forged_return}, "
            f"the engine gave up at #{gave_up}): raise BOOT_TIMEOUT")
        log = (farm.master_dir / "log" / "master").read_text(errors="replace")
        assert (f"jtk1 answered with the marker of switch {lease['switch_id']} while no connection from "
                f"{farm.ip('jtk1')} reaches the master: not taken") in log

        assert [d for d in watch.data("jetson/switch/jtk1/verify") if d["result"] == "ok"] == []
        assert "jetson/board/jtk1/ready" not in watch.tags()
        failed = watch.wait_for("jetson/board/jtk1/failed")
        previous = lease["previous_image"]  # what jtk1 ran before: its default image, in this lab
        assert failed["step"] == "verify" and f"rolled back to {previous}" in failed["reason"], failed
        (journal, places), history, stored = together(
            lambda: state_and_images(farm, "jtk1"), lambda: sessions(farm, "jtk1"),
            lambda: farm._run([BIN / "salt-run", "-c", farm.master_dir, "--out=json", "jobs.lookup_jid",
                               job["jid"]], 60))
        assert places[IMAGE] == ["store"] and journal["image"] == previous
        assert history[-1]["outcome"] == "failed"
        assert stored.data.get("jtk1") == marker_of(lease), stored  # Salt filed it as jtk1's
    finally:
        if forger.poll() is None:
            forger.kill()
            forger.communicate()
        farm.fault("jtk1", "clear")
        farm.salt_run(["jetson.unquarantine", "board=jtk1"])
    farm.restore("jtk1")  # up on its default image since the rollback, or soon


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
