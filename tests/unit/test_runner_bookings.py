"""Grouping the pushed bookings by site (jetson_farm/runner/bookings.py)."""

import copy

import pytest

from jetson_farm.errors import JetsonError
from jetson_farm.inventory import Inventory
from jetson_farm.runner.bookings import by_site


def booking(board, image="alice/cuda-dev", user="alice"):
    return {"image": image, "board": board, "user": user,
            "start": "2026-12-01T09:00:00+01:00", "end": "2026-12-01T18:00:00+01:00"}


@pytest.fixture
def two_sites(pillar):
    raw = copy.deepcopy(pillar)
    raw["sites"]["site02"] = dict(raw["sites"]["site01"], minion="site02",
                                  root=raw["sites"]["site01"]["root"] + "2")
    raw["boards"]["jtk2"]["site"] = "site02"
    return Inventory.load(raw)


def test_each_site_gets_its_own_boards_bookings_and_an_empty_list_when_none(two_sites):
    assert by_site(two_sites, [booking("jtk2"), booking("jtk1", "bob/ros", "bob")]) == {
        "site01": [booking("jtk1", "bob/ros", "bob")], "site02": [booking("jtk2")]}
    assert by_site(two_sites, []) == {"site01": [], "site02": []}


def test_a_bad_booking_refuses_the_whole_list_naming_each_item(two_sites):
    with pytest.raises(JetsonError, match=r"none pushed: bookings\[1\]: unknown board 'jtk9'"):
        by_site(two_sites, [booking("jtk1"), booking("jtk9")])
    with pytest.raises(JetsonError, match=r"bookings\[0\].*must have the keys"):
        by_site(two_sites, [{"board": "jtk1"}])
    with pytest.raises(JetsonError, match="bookings must be a list"):
        by_site(two_sites, "jtk1")
