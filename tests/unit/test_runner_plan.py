"""The orchestration's request forms and the flash command."""

import pathlib

import pytest
import yaml

from jetson_farm.errors import InvalidName, InventoryError
from jetson_farm.inventory import Inventory
from jetson_farm.runner.flash import flash_command
from jetson_farm.runner.plan import BadRequest, release_requests, switch_requests

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "salt" / "pillar" / "jetson.sls"


def test_the_three_switch_forms():
    assert switch_requests({"board": "jtk1", "image": "alice/cuda-dev"}) == [
        {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice"}]
    assert switch_requests({"boards": {"jtk2": "bob/ros", "jtk1": "alice/cuda-dev"}}) == [
        {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice"},
        {"board": "jtk2", "image": "bob/ros", "user": "bob"}]
    assert switch_requests({"boards": {"jtk1": {"image": "admin/l4t-base", "user": "alice"}}}) == [
        {"board": "jtk1", "image": "admin/l4t-base", "user": "alice"}]


@pytest.mark.parametrize(("pillar", "message"), [
    ({}, "no board given"),
    ("jtk1", "the pillar argument must be a mapping"),
    ({"board": "jtk1"}, "the request: no image given"),
    ({"boards": []}, "'boards' must be a non-empty mapping"),
    ({"boards": {"jtk1": 5}}, "boards.jtk1: expected an image 'user/name' or a mapping"),
    ({"boards": {"jtk1": {"image": "a/b", "color": "red"}}}, "unknown key(s) ['color']"),
    ({"boards": {"jtk1": "a/b"}, "board": "jtk2"}, "give either 'boards' or 'board'/'image'"),
])
def test_malformed_switch_requests_are_named(pillar, message):
    with pytest.raises(BadRequest) as err:
        switch_requests(pillar)
    assert message in str(err.value)


@pytest.mark.parametrize(("pillar", "message"), [
    ({"board": "../etc", "image": "alice/x"}, "invalid board name '../etc'"),
    ({"board": "jtk1", "image": "cuda-dev"}, "an image is addressed as 'user/name'"),
    ({"board": "jtk1", "image": "alice/x", "user": "Eve; rm"}, "invalid user name"),
])
def test_bad_names_are_refused_before_anything_runs(pillar, message):
    with pytest.raises(InvalidName) as err:
        switch_requests(pillar)
    assert message in str(err.value)


def test_release_forms():
    assert release_requests({"board": "jtk1"}) == [{"board": "jtk1"}]
    assert release_requests({"boards": ["jtk2", "jtk1", "jtk2"]}) == [{"board": "jtk1"}, {"board": "jtk2"}]
    with pytest.raises(BadRequest, match="no board given"):
        release_requests({"image": "x/y"})


def test_flash_command_of_the_example_inventory():
    inventory = Inventory.load(yaml.safe_load(EXAMPLE.read_text())["jetson"])
    assert flash_command(inventory, "jtk1") == (
        "sudo ./flash.sh -N 192.168.137.130:/NFSRoot1 -n "
        "192.168.137.131:192.168.137.130:192.168.137.1:255.255.255.0 jetson-tk1 eth0")


def test_flash_command_names_what_the_inventory_lacks():
    pillar = yaml.safe_load(EXAMPLE.read_text())["jetson"]
    del pillar["sites"]["site01"]["address"]
    pillar["boards"]["jtk1"]["flash"] = {"target": "tk1; reboot"}
    with pytest.raises(InventoryError) as err:
        flash_command(Inventory.load(pillar), "jtk1")
    assert err.value.problems == [
        "cannot build the flash command of jtk1: set sites.site01.address (the site server's address "
        "on the boards' segment)",
        "cannot build the flash command of jtk1: set boards.jtk1.flash.target (a board config name such "
        "as jetson-tk1), got 'tk1; reboot'",
    ]
