"""Two site servers, one master (docs/architecture.md, "Sites in one run"): a site whose minion
is down fails only its own boards, naming the site, while the other site's boards switch. One
run switching both sites side by side runs in seconds in the engine tier
(tests/functional/test_engine_sites.py).

This module brings up its own lab: ``jetson-lab up --sites 2 --boards 4`` (jtk1, jtk2 on site01;
jtk3, jtk4 on site02, each site with its own store and Ganesha).
"""

import functools
import json

import pytest

from jetson_lab import farm
from tests.lab_fixture import UP_TIMEOUT, _bring_up, _tear_down
from tests.switch_helpers import (
    last_sessions,
    markers,
    orchestrate,
    places_of,
    site_job,
    together,
)

SITE01, SITE02 = "site01", "site02"
SILENT_TIMEOUT = 3  # site02's give-up while it is down, in its own pillar (the default is 30 s)


@pytest.fixture(scope="module")
def two_sites():
    lab = _bring_up(["--sites", 2, "--boards", 4], 2 * UP_TIMEOUT)
    try:
        yield lab
    finally:
        _tear_down(lab.dir)


def sites_of(lab):
    return {board: lab.site_of(board) for board in lab.boards}


def look(lab, sites=(SITE01, SITE02)):
    """``({board: its journal}, {site: {image: its one place}})`` for the boards and images of
    ``sites``: one site job per site (the sites side by side) asks for every journal and the image
    list together; fails naming an image that is in more or fewer than one place."""
    journals, places = {}, {}
    calls = ("jetson_rootfs.state",), ("jetson_rootfs.list",)
    answers = together(*[functools.partial(site_job, lab, site, *calls) for site in sites])
    for site, answer in zip(sites, answers, strict=True):
        found, listing = answer["jetson_rootfs.state"], answer["jetson_rootfs.list"]
        assert isinstance(found, dict) and isinstance(listing, list), f"{site}: {answer!r}"
        journals.update({board: found.get(board) for board in lab.boards if lab.site_of(board) == site})
        where = places_of(listing)
        assert {image: at for image, at in where.items() if len(at) != 1} == {}, f"{site}: {where}"
        places[site] = {image: at[0] for image, at in where.items()}
    return journals, places


def image_of(journals, board):
    journal = journals[board]
    assert isinstance(journal, dict), f"{board}'s journal: {journal!r}"
    return journal["image"]


def running(lab, boards):
    """``({board: its marker grain}, {board: its latest session})``: one marker job and one
    ``jetson.sessions`` for all ``boards``, side by side."""
    return tuple(together(lambda: markers(lab, list(boards)), lambda: last_sessions(lab, list(boards))))


def test_the_lab_has_two_sites_each_with_its_boards_store_and_ganesha(two_sites):
    lab = two_sites
    assert lab.sites == [SITE01, SITE02]
    assert {b: lab.site_of(b) for b in lab.boards} == {"jtk1": SITE01, "jtk2": SITE01,
                                                       "jtk3": SITE02, "jtk4": SITE02}
    sites = lab.pillar["sites"]
    assert sites[SITE01]["root"] != sites[SITE02]["root"]
    assert sites[SITE01]["nfs"]["ganesha_conf"] != sites[SITE02]["nfs"]["ganesha_conf"]
    assert sites[SITE01]["address"] != sites[SITE02]["address"]
    journals, places = look(lab)
    for board in lab.boards:
        # Each board booted from its own site's Ganesha: its default image, from its site's store.
        assert image_of(journals, board) == f"admin/l4t-base-{board}"
        assert lab.nfs_sessions(board)
    assert places[SITE02]["admin/l4t-base-jtk3"] == "jtk3"
    assert "admin/l4t-base-jtk3" not in places[SITE01]


def test_a_site_that_is_down_fails_only_its_own_boards(two_sites):
    lab = two_sites
    wanted = {"jtk1": "admin/l4t-base", "jtk2": "admin/l4t-base-jtk2",
              "jtk3": "admin/l4t-base", "jtk4": "admin/l4t-base-jtk4"}
    (journals, places), last_before = together(lambda: look(lab, [SITE02]),
                                               lambda: last_sessions(lab, ["jtk3", "jtk4"]))
    before = {board: image_of(journals, board) for board in ("jtk3", "jtk4")}
    site02_images = places[SITE02]
    saved = lab.pillar
    pillar = lab.pillar
    pillar["sites"][SITE02]["silent_timeout"] = SILENT_TIMEOUT
    lab.write_pillar(pillar)
    assert farm.stop_site_minion(lab.config, SITE02)
    try:
        ret = orchestrate(lab, "jetson.switch", {"boards": wanted})
        assert ret.returncode != 0
        # What the site01 and the master say while site02 is down, asked side by side (and
        # site01's images are still in one place each).
        (journals, _), leases, status, shown = together(
            lambda: look(lab, [SITE01]), lambda: lab.salt_run(["jetson.lease"]).data,
            lambda: lab.salt_run(["jetson.status"]).data, lambda: lab.lab_cli(["status", "--json"]).stdout)
        for board in ("jtk1", "jtk2"):
            assert f"{board}: ok: up on {wanted[board]} for admin" in ret.stdout, ret.stdout[-3000:]
            assert image_of(journals, board) == wanted[board]
        for board in ("jtk3", "jtk4"):
            assert f"{board}: FAILED: {board}: refused: site {SITE02} did not answer" in ret.stdout
        assert not set(leases or {}) & {"jtk3", "jtk4"}
        # Status still answers, with every board of both sites; site02's cannot say their image.
        assert {b: row["site"] for b, row in status.items()} == sites_of(lab)
        assert status["jtk1"]["image"] == "admin/l4t-base" and status["jtk3"]["image"] is None
        shown = json.loads(shown)
        assert shown["daemons"][SITE01] is True and shown["daemons"][SITE02] is False
        assert {row["board"]: row["site"] for row in shown["boards"]} == sites_of(lab)
    finally:
        farm.start_site_minion(lab.config, SITE02)
        lab.write_pillar(saved)
    # Nothing lost, nothing touched on site02: its boards still run what they ran.
    (journals, places), (seen, last) = together(lambda: look(lab, [SITE02]), lambda: running(lab, before))
    assert {board: image_of(journals, board) for board in before} == before
    assert {board: (seen[board] or {}).get("image") for board in before} == before, seen
    assert last == last_before  # no session opened, ended or changed
    assert places[SITE02] == site02_images
