"""The runner's SQLite records: leases (liveness, expiry, refusal), history, quarantine."""

import multiprocessing
import os
import subprocess
import sys

import pytest

from jetson_farm.errors import Refused
from jetson_farm.runner import history, leases, quarantine
from jetson_farm.runner.db import FarmDB, parse_time


@pytest.fixture
def db(tmp_path):
    return FarmDB(str(tmp_path / "jetson" / "farm.db"))


@pytest.fixture
def other_run():
    """A live process standing for another orchestration: its holder token is live until killed."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def _lease(conn, holder, ttl=600):
    leases.put(conn, "jtk1", switch_id="jtk1-1", user="alice", image="alice/cuda-dev", jid="20261123",
               holder=holder, ttl=ttl)


def test_a_live_lease_of_another_run_refuses_naming_its_holder(db, other_run):
    with db.connect(immediate=True) as conn:
        _lease(conn, leases.holder_token(other_run.pid))
    with db.connect(immediate=True) as conn, pytest.raises(Refused) as err:
        leases.check_free(conn, "jtk1", leases.holder_token())
    message = str(err.value)
    assert "board jtk1 is busy: alice is switching it to alice/cuda-dev" in message
    assert "jid 20261123" in message
    assert "the lease expires" in message


def test_a_lease_is_free_once_its_holder_is_gone(db, other_run):
    with db.connect(immediate=True) as conn:
        _lease(conn, leases.holder_token(other_run.pid))
    other_run.kill()
    other_run.wait(timeout=10)
    with db.connect(immediate=True) as conn:
        stale = leases.check_free(conn, "jtk1", leases.holder_token())
    assert stale["switch_id"] == "jtk1-1"


def test_an_expired_lease_is_free_even_while_its_holder_runs(db, other_run):
    with db.connect(immediate=True) as conn:
        _lease(conn, leases.holder_token(other_run.pid), ttl=-1)
        assert leases.check_free(conn, "jtk1", leases.holder_token())["switch_id"] == "jtk1-1"
        assert leases.drop_stale(conn) == ["jtk1"]
        assert leases.get(conn, "jtk1") is None


def test_held_by_refuses_a_run_that_lost_the_lease(db, other_run):
    mine = leases.holder_token()
    with db.connect() as conn:
        _lease(conn, mine)
        assert leases.held_by(conn, "jtk1", mine)["switch_id"] == "jtk1-1"
        with pytest.raises(Refused, match="does not hold its lease"):
            leases.held_by(conn, "jtk1", leases.holder_token(other_run.pid))
        leases.release(conn, "jtk1", "another-switch")
        assert leases.get(conn, "jtk1") is not None
        leases.release(conn, "jtk1", "jtk1-1")
        assert leases.get(conn, "jtk1") is None


def test_holder_token_is_not_fooled_by_a_recycled_pid():
    token = leases.holder_token()
    pid, start, run = token.split(":")
    assert leases.holder_alive(token)
    assert not leases.holder_alive(f"{pid}:{int(start) + 1}:{run}")
    assert leases.holder_alive(f"{pid}:{start}")  # a lease written before holders named their run
    assert not leases.holder_alive("garbage")


def test_two_runs_in_one_process_are_two_holders(db):
    """As two runs forked by one long-lived process (salt-api's runner jobs, by one master
    worker) or run in one process's threads (the reactor): the second never takes the first's
    live lease for its own, neither to resume it nor to close it."""
    first, second = leases.holder_token(), leases.holder_token()
    assert first != second and first.split(":")[:2] == second.split(":")[:2]
    with db.connect(immediate=True) as conn:
        _lease(conn, first)
    with db.connect(immediate=True) as conn:
        with pytest.raises(Refused, match="board jtk1 is busy: alice is switching it to alice/cuda-dev"):
            leases.check_free(conn, "jtk1", second)
        with pytest.raises(Refused, match="does not hold its lease"):
            leases.held_by(conn, "jtk1", second)
        assert leases.check_free(conn, "jtk1", first)["holder"] == first


def _token_in_child(answer):
    answer.send((os.getpid(), leases.holder_token()))


def test_the_holder_is_the_process_that_runs_the_engine_not_its_parent():
    """A runner_async job runs in a process forked from a master worker: the job is the holder."""
    context = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe()
    child = context.Process(target=_token_in_child, args=(theirs,))
    child.start()
    pid, token = mine.recv()
    child.join(timeout=60)
    assert token.split(":")[0] == str(pid) != str(os.getpid())
    assert not leases.holder_alive(token)  # the job is over: its lease is stale


def test_a_session_runs_from_switching_to_active_to_ended(db):
    with db.connect() as conn:
        history.start(conn, switch_id="s1", kind="switch", board="jtk1", user="alice", image="alice/cuda-dev",
                      previous_image="admin/l4t-base", previous_user="admin", jid="j1")
        assert history.current(conn, "jtk1")["outcome"] == "switching"
        history.set_step(conn, "s1", "swap")
        history.mark_ready(conn, "s1")
        history.start(conn, switch_id="s2", kind="switch", board="jtk1", user="bob", image="bob/ros",
                      previous_image="alice/cuda-dev", previous_user="alice", jid="j2")
        history.end_active(conn, "jtk1", keep="s2")
        rows = history.query(conn, board="jtk1")
    assert [(r["switch_id"], r["outcome"]) for r in rows] == [("s1", "ended"), ("s2", "switching")]
    first = rows[0]
    assert first["user"] == "alice" and first["image"] == "alice/cuda-dev" and first["jid"] == "j1"
    assert first["started"] <= first["ready"] <= first["ended"]


def test_history_filters_by_board_user_and_start(db):
    with db.connect() as conn:
        for sid, board, user in (("a", "jtk1", "alice"), ("b", "jtk2", "alice"), ("c", "jtk2", "bob")):
            history.start(conn, switch_id=sid, kind="switch", board=board, user=user, image=f"{user}/x",
                          previous_image="", previous_user="", jid="")
        assert [r["switch_id"] for r in history.query(conn, user="alice")] == ["a", "b"]
        assert [r["switch_id"] for r in history.query(conn, board="jtk2", user="bob")] == ["c"]
        assert history.query(conn, since=parse_time("2999-01-01")) == []
        assert len(history.query(conn, since=parse_time("2000-01-01T00:00"))) == 3


def test_a_bad_since_is_named():
    with pytest.raises(ValueError, match="since='yesterday' is not an ISO date"):
        parse_time("yesterday")


def test_closing_a_session_twice_keeps_the_first_outcome(db):
    with db.connect() as conn:
        history.start(conn, switch_id="s1", kind="switch", board="jtk1", user="alice", image="alice/x",
                      previous_image="", previous_user="", jid="")
        history.close(conn, "s1", "failed", "did not boot")
        history.close(conn, "s1", "interrupted", "later")
        row = history.query(conn)[0]
    assert (row["outcome"], row["reason"]) == ("failed", "did not boot")


def test_quarantine_refuses_until_lifted(db):
    with db.connect() as conn:
        quarantine.check(conn, "jtk1")
        quarantine.put(conn, "jtk1", "did not boot", by="admin")
        with pytest.raises(Refused, match=r"board jtk1 is quarantined since .*: did not boot"):
            quarantine.check(conn, "jtk1")
        assert quarantine.remove(conn, "jtk1") is True
        assert quarantine.remove(conn, "jtk1") is False
        quarantine.check(conn, "jtk1")
