"""``salt-run jetson.enroll`` on the session master: the board's private key is made on its site
and never travels through Salt's job system (job cache, event bus); the master accepts the site's
public key."""

import concurrent.futures
import json
import os
import pathlib
import stat
import time

import pytest
import salt.utils.event

RECORDED = "jetson/test/enroll-recorded"


def run(master, fun, *args):
    return master.salt_run_cli(timeout=300).run(fun, *args)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def pem_lines(pem_text):
    """The base64 lines of a PEM body: any one of them found elsewhere is a copy of the key."""
    return [line for line in pem_text.splitlines() if line and not line.startswith("-----")]


def record_bus(config, action):
    """``(action(), events)``: every event on the master's bus from before ``action`` starts until
    after it has returned (an event fired afterwards marks the end of the recording)."""
    bus = salt.utils.event.get_master_event(config, config["sock_dir"], listen=True)
    events, marked = [], False
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            done = pool.submit(action)
            deadline = time.monotonic() + 600  # a guard against a hang, not a measurement
            while time.monotonic() < deadline:
                if done.done() and not marked:
                    with salt.utils.event.get_master_event(config, config["sock_dir"], listen=False) as out:
                        out.fire_event({}, RECORDED)
                    marked = True
                event = bus.get_event(wait=0.5, full=True)
                if event is not None and event["tag"] == RECORDED:
                    return done.result(), events
                if event is not None:
                    events.append(event)
    finally:
        bus.destroy()
    raise AssertionError("the master's event bus never delivered the end-of-recording event")


def files_holding(folder, lines):
    """The files under ``folder`` (recursively) that contain any of ``lines``."""
    needles = [line.encode() for line in lines]
    found = []
    for path in pathlib.Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(str(path))
    return found


@pytest.fixture
def accepted_key(runners):
    """The path of jtk2's accepted key on the master, removed afterwards."""
    path = pathlib.Path(runners.config["pki_dir"]) / "minions" / "jtk2"
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def accepted_keys(runners):
    """The paths of jtk1's and jtk2's accepted keys on the master, removed afterwards."""
    paths = {board: pathlib.Path(runners.config["pki_dir"]) / "minions" / board for board in ("jtk1", "jtk2")}
    yield paths
    for path in paths.values():
        path.unlink(missing_ok=True)


def test_the_private_key_is_in_no_job_cache_and_no_event(runners, farm, accepted_key):
    ret, events = record_bus(runners.config, lambda: run(runners, "jetson.enroll", "board=jtk2"))
    assert ret.returncode == 0, ret
    assert ret.data["new_key"] is True
    identity = farm.dir / "root" / "boards" / "jtk2" / "identity"
    pem, pub = identity / "minion.pem", identity / "minion.pub"
    assert (mode(pem), mode(identity)) == (0o600, 0o700)
    assert accepted_key.read_text().strip() == pub.read_text().strip()

    private, public = pem_lines(pem.read_text()), pem_lines(pub.read_text())
    jobs = pathlib.Path(runners.config["cachedir"]) / "jobs"
    bus = json.dumps(events, default=repr)
    assert len(private) > 20
    assert files_holding(runners.config["cachedir"], private) == []
    assert [line for line in private if line in bus] == []
    # The search sees what does travel: the site's return carries the public key.
    assert files_holding(jobs, public)
    assert all(line in bus for line in public)
    assert any(event["tag"].startswith("salt/job/") for event in events)


def test_enrolling_again_keeps_the_pair_and_renew_replaces_it(runners, farm, accepted_key):
    first = run(runners, "jetson.enroll", "board=jtk2")
    assert first.returncode == 0, first
    pub = farm.dir / "root" / "boards" / "jtk2" / "identity" / "minion.pub"
    kept = pub.read_text()
    again = run(runners, "jetson.enroll", "board=jtk2")
    assert again.returncode == 0, again
    assert again.data["new_key"] is False
    assert pub.read_text() == kept
    renewed = run(runners, "jetson.enroll", "board=jtk2", "renew=True")
    assert renewed.returncode == 0, renewed
    assert renewed.data["new_key"] is True
    assert pub.read_text() != kept
    assert accepted_key.read_text().strip() == pub.read_text().strip()


@pytest.mark.parametrize(("args", "message"), [
    (["board=nosuch"], "unknown board 'nosuch'"),
    (["board=jtk2", "renew=maybe"], "renew= must be True or False, not 'maybe'"),
    ([], "board= is required"),
    (["boards=jtk2,nosuch"], "unknown board 'nosuch'"),
    (["board=jtk2", "boards=jtk2"], "give board= or boards=, not both"),
    (["boards=jtk2,,jtk1"], "boards= must be board names (a list, or separated by commas), not 'jtk2,,jtk1'"),
    (["boards=[jtk2, 7]"], "boards= must be board names (a list, or separated by commas), not ['jtk2', 7]"),
])
def test_a_bad_enrolment_fails_with_nothing_accepted(runners, farm, accepted_key, args, message):
    ret = run(runners, "jetson.enroll", *args)
    assert ret.returncode == 1, ret
    assert message in ret.stdout
    assert not accepted_key.exists()
    assert not (farm.dir / "root" / "boards").exists()


def symlink_identity(farm, board, target):
    """Make ``board``'s identity folder on the site a symlink to ``target`` (hostile)."""
    board_dir = farm.dir / "root" / "boards" / board
    board_dir.mkdir(parents=True)
    (board_dir / "identity").symlink_to(target)


def test_a_symlinked_identity_folder_is_refused_on_the_site(runners, farm, accepted_key, tmp_path):
    symlink_identity(farm, "jtk2", tmp_path)
    ret = run(runners, "jetson.enroll", "board=jtk2")
    assert ret.returncode == 1, ret
    assert "boards/jtk2/identity is a symlink" in ret.stdout
    assert list(tmp_path.iterdir()) == []
    assert not accepted_key.exists()


def test_boards_enrolls_several_in_one_call_and_keeps_their_pairs(runners, farm, accepted_keys):
    first = run(runners, "jetson.enroll", "boards=jtk1,jtk2")
    assert first.returncode == 0, first
    assert (sorted(first.data["done"]), first.data["failed"]) == (["jtk1", "jtk2"], {})
    identity = farm.dir / "root" / "boards"
    for board, key in accepted_keys.items():
        assert first.data["done"][board]["new_key"] is True
        assert key.read_text().strip() == (identity / board / "identity" / "minion.pub").read_text().strip()
    again = run(runners, "jetson.enroll", "boards=[jtk1, jtk2]")
    assert again.returncode == 0, again
    assert {board: done["new_key"] for board, done in again.data["done"].items()} == \
        {"jtk1": False, "jtk2": False}


def test_one_board_failing_in_boards_leaves_the_others_enrolled(runners, farm, accepted_keys, tmp_path):
    symlink_identity(farm, "jtk2", tmp_path)
    ret = run(runners, "jetson.enroll", "boards=jtk1,jtk2")
    assert ret.returncode == 1, ret
    assert list(ret.data["done"]) == ["jtk1"]
    assert "boards/jtk2/identity is a symlink" in ret.data["failed"]["jtk2"]
    assert "jtk2: " in ret.data["error"]
    assert accepted_keys["jtk1"].is_file()
    assert not accepted_keys["jtk2"].exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["jtk1"], "boards must be a non-empty list of board names, not 'jtk1'"),
    (['["jtk1", "nosuch"]'], "unknown board 'nosuch'"),
    (['["jtk1"]', "renew=maybe"], "renew must be True or False, not 'maybe'"),
])
def test_the_sites_batch_refuses_bad_input_and_makes_nothing(farm, args, message):
    ret = farm.salt("jetson_switch.ensure_identity_many", *args)
    assert ret.returncode != 0, ret
    assert message in ret.stdout
    assert not (farm.dir / "root" / "boards").exists()
