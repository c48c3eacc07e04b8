"""The job cache the switch engine takes answers from: what Salt's master writes there, and what
a minion's fired event cannot (rule 6). A real master's opts, Salt's ``local_cache`` on disk,
and the master's own code paths: ``salt.utils.job.store_job`` (what ``AESFuncs._return`` runs for
an authenticated return) and ``AESFuncs._handle_minion_event`` (what it runs for
``event.fire_master``, after firing the event on the bus).
"""

import pytest
import salt.config
import salt.master
import salt.minion
import salt.utils.jid
import salt.utils.job

from jetson_farm.runner.jobcache import JobCache, JobCacheOff, answer

MARKER = {"board": "jtk1", "image": "alice/cuda-dev", "switch_id": "jtk1-20250101T000000Z-beef"}


@pytest.fixture
def master(tmp_path):
    opts = salt.config.master_config(str(tmp_path / "master"))
    opts.update(cachedir=str(tmp_path / "cache"), sock_dir=str(tmp_path / "run"),
                pki_dir=str(tmp_path / "pki"))
    with salt.minion.MasterMinion(opts, states=False, rend=False, matcher=False) as mminion:
        yield opts, mminion


def test_an_authenticated_return_is_read_back_from_the_cache(master):
    opts, mminion = master
    jid = salt.utils.jid.gen_jid(opts)
    salt.utils.job.store_job(opts, {"jid": jid, "id": "jtk1", "fun": "grains.get", "return": MARKER,
                                    "retcode": 0, "success": True}, mminion=mminion)
    cache = JobCache(opts)
    assert cache.returns(jid, ["jtk1", "jtk2"]) == {"jtk1": {"return": MARKER, "retcode": 0, "success": True}}
    assert answer(cache.returns(jid, ["jtk1"])["jtk1"]) == (True, MARKER)


def test_a_fired_return_event_never_reaches_the_cache(master):
    """jtk2's ``event.fire_master`` in the ``events`` form, with a return for jtk1 to the job and
    even the ``minions`` key that makes the master store something for that jid."""
    opts, mminion = master
    jid = salt.utils.jid.gen_jid(opts)
    aes = salt.master.AESFuncs.__new__(salt.master.AESFuncs)
    aes.opts, aes.mminion = opts, mminion
    forged = {"jid": jid, "id": "jtk1", "fun": "grains.get", "return": MARKER, "retcode": 0,
              "success": True, "minions": ["jtk1"]}
    aes._handle_minion_event({"id": "jtk2", "events": [{"tag": f"salt/job/{jid}/ret/jtk1", "data": forged}]})
    assert JobCache(opts).returns(jid, ["jtk1"]) == {}
    assert JobCache(opts).wait(jid, ["jtk1"], 0) == {}


def test_a_failed_return_is_an_error_with_the_minions_message(master):
    opts, mminion = master
    jid = salt.utils.jid.gen_jid(opts)
    salt.utils.job.store_job(opts, {"jid": jid, "id": "site01", "fun": "jetson_switch.take_enrolment",
                                    "return": "ERROR: no such site", "retcode": 1, "success": False},
                             mminion=mminion)
    assert answer(JobCache(opts).returns(jid, ["site01"])["site01"]) == (False, "no such site")


def test_ids_that_are_not_minion_ids_are_never_paths(master):
    opts, _ = master
    assert JobCache(opts).returns(salt.utils.jid.gen_jid(opts), ["../../etc", "", None]) == {}


@pytest.mark.parametrize("settings", [{"job_cache": False}, {"ext_job_cache": "redis"}])
def test_a_master_without_its_own_job_cache_is_refused_by_name(master, settings):
    opts, _ = master
    with pytest.raises(JobCacheOff, match="the master's job cache is off"):
        JobCache(dict(opts, **settings))
