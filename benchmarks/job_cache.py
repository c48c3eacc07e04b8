"""What confirming a return with the master's job cache costs the switch engine (rule 6).

The engine takes a minion's answer only from the returns the master stored
(``jetson_farm.runner.jobcache``). This stores the returns of one job of ``--boards`` minions the
way the master does (``salt.utils.job.store_job``, Salt's ``local_cache`` on disk, in a scratch
master), then times reading them back: all at once (a step's batch answer) and one by one (the
marker question of each board as it comes up). The figures are per return, and as a share of the
time the master itself took to store them, so a noisy machine still reads them as ratios.

    .venv/bin/python benchmarks/job_cache.py [--boards 32] [--repeat 20]
"""

import argparse
import shutil
import statistics
import tempfile
import time

import salt.config
import salt.minion
import salt.utils.jid
import salt.utils.job

from jetson_farm.runner.jobcache import JobCache

MARKER = {"board": "jtk1", "image": "alice/cuda-dev", "switch_id": "jtk1-20250101T000000Z-beef"}


def master_opts(folder):
    opts = salt.config.master_config(f"{folder}/master")
    opts.update(cachedir=f"{folder}/cache", sock_dir=f"{folder}/run", pki_dir=f"{folder}/pki")
    return opts


def store(opts, mminion, minions):
    """One job's returns from every minion, as the master stores them; (jid, seconds)."""
    jid = salt.utils.jid.gen_jid(opts)
    # What the master saves when it publishes the job, before any return comes.
    mminion.returners["local_cache.prep_jid"](False, passed_jid=jid)
    mminion.returners["local_cache.save_load"](
        jid, {"jid": jid, "fun": "grains.get", "arg": ["jetson_marker"], "tgt": minions, "tgt_type": "list"},
        minions=minions)
    started = time.perf_counter()
    for minion in minions:
        salt.utils.job.store_job(opts, {"jid": jid, "id": minion, "fun": "grains.get", "return": MARKER,
                                        "retcode": 0, "success": True}, mminion=mminion)
    return jid, time.perf_counter() - started


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=32, help="minions answering one job (default 32)")
    parser.add_argument("--repeat", type=int, default=20, help="jobs measured (default 20)")
    args = parser.parse_args()
    minions = [f"jtk{i}" for i in range(1, args.boards + 1)]
    folder = tempfile.mkdtemp(prefix="jetson-bench-jobcache-")
    try:
        opts = master_opts(folder)
        cache = JobCache(opts)
        stored, batch, single = [], [], []
        with salt.minion.MasterMinion(opts, states=False, rend=False, matcher=False) as mminion:
            for _ in range(args.repeat):
                jid, seconds = store(opts, mminion, minions)
                stored.append(seconds)
                found, seconds = timed(lambda jid=jid: cache.returns(jid, minions))
                assert len(found) == len(minions), "a stored return was not read back"
                batch.append(seconds)
                _, seconds = timed(lambda jid=jid: [cache.returns(jid, [m]) for m in minions])
                single.append(seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    per = {name: statistics.median(values) / args.boards
           for name, values in (("store", stored), ("batch", batch), ("single", single))}
    print(f"job cache, {args.boards} returns per job, median of {args.repeat} jobs:")
    print(f"  the master storing a return    {per['store'] * 1e6:8.0f} us")
    print(f"  confirming it, batch read      {per['batch'] * 1e6:8.0f} us  "
          f"({per['batch'] / per['store']:.2f} x the store)")
    print(f"  confirming it, one by one      {per['single'] * 1e6:8.0f} us  "
          f"({per['single'] / per['store']:.2f} x the store)")
    print(f"  a whole {args.boards}-board step confirmed in {per['batch'] * args.boards * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
