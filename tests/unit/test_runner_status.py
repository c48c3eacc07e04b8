"""How a board's status row is assembled from the site's state and the runner's records."""

from jetson_farm.runner import leases
from jetson_farm.runner.db import now
from jetson_farm.runner.status import board_row

SITE = {"image": "alice/cuda-dev", "user": "alice", "since": "2026-11-23T09:00:00+00:00"}


def session(image="alice/cuda-dev", outcome="active", user="alice", started=None):
    started = now() - 60 if started is None else started
    return {"switch_id": "s1", "kind": "switch", "board": "jtk1", "user": user, "image": image,
            "started": started, "ready": started + 30, "ended": None, "outcome": outcome, "jid": "j",
            "step": "record", "reason": ""}


def lease(holder):
    return {"board": "jtk1", "switch_id": "s2", "user": "bob", "image": "bob/ros", "jid": "j2",
            "holder": holder, "since": now(), "expires": now() + 600}


def test_an_up_board_with_its_session():
    row = board_row("jtk1", SITE, None, None, session(user="bob"), session(user="bob"), present=True)
    assert (row["image"], row["owner"], row["user"], row["state"]) == ("alice/cuda-dev", "alice", "bob", "up")
    assert row["session"]["switch_id"] == "s1"
    assert row["since"] == row["session"]["ready"]


def test_quarantine_wins_over_everything():
    quarantined = {"board": "jtk1", "reason": "no boot", "since": "x", "by": "admin"}
    row = board_row("jtk1", SITE, lease(leases.holder_token()), quarantined, None, None, present=True)
    assert row["state"] == "quarantined"
    assert row["quarantine"]["reason"] == "no boot"


def test_a_live_lease_is_switching_and_a_dead_one_is_not():
    mine = lease(leases.holder_token())
    assert board_row("jtk1", SITE, mine, None, None, None, True)["state"] == "switching"
    assert board_row("jtk1", SITE, lease("1:0"), None, None, None, True)["state"] == "up"


def test_a_failed_board_that_is_not_up():
    failed = session(outcome="failed")
    assert board_row("jtk1", SITE, None, None, None, failed, present=False)["state"] == "failed"
    assert board_row("jtk1", SITE, None, None, None, failed, present=True)["state"] == "up"
    ended = session(outcome="ended")
    assert board_row("jtk1", SITE, None, None, None, ended, present=False)["state"] == "down"


def test_the_site_is_the_truth_about_the_image():
    # The runner's session says alice/cuda-dev, but the site says the nfsroot is empty.
    row = board_row("jtk1", {"image": None}, None, None, session(), session(), present=False)
    assert (row["image"], row["owner"], row["session"]) == (None, None, None)
