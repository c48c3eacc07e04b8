"""jetson_image.working_copies and catalog through Salt's real loader: the site's half of a switch
of a shared image (a working copy per user, made or found, each board failing alone) and the
list that tells templates from working copies."""

import os

import pytest
from salt.exceptions import SaltInvocationError

from tests.unit.test_rootfs_helpers import manifest, seed_store


@pytest.fixture
def pillar(pillar):
    pillar["users"]["bob"]["quota_gb"] = 0.001  # about 1 MB: no room for a copy of 2 MB
    return pillar


@pytest.fixture
def store(loaders, pillar):
    layout = seed_store(pillar["sites"]["site01"]["root"])  # alice/cuda-dev, bob/private
    template = layout.image_path("admin/l4t-base")  # shared: True
    os.makedirs(os.path.join(template, "etc"))
    with open(os.path.join(template, "etc", "os-release"), "w") as handle:
        handle.write("NAME=L4T\n" * 250_000)
    return layout


def test_each_user_gets_a_copy_and_each_board_fails_alone(modules, store):
    before = manifest(store.image_path("admin/l4t-base"))
    ret = modules.jetson_image.working_copies([
        {"board": "jtk1", "template": "admin/l4t-base", "user": "alice"},
        {"template": "admin/l4t-base", "user": "bob"}])
    made = ret["done"]["alice/l4t-base"]
    assert (made["image"], made["made"], made["template"]) == ("alice/l4t-base", True, "admin/l4t-base")
    assert made["method"] in ("reflink", "copy")
    assert "over quota: cloning admin/l4t-base" in ret["failed"]["bob/l4t-base"]
    assert not os.path.exists(store.image_path("bob/l4t-base"))
    assert manifest(store.image_path("alice/l4t-base")) == before
    assert manifest(store.image_path("admin/l4t-base")) == before
    again = modules.jetson_image.working_copies([{"template": "admin/l4t-base", "user": "alice"}])
    assert again["done"]["alice/l4t-base"]["made"] is False
    kinds = {item["image"]: (item["kind"], item["template"]) for item in modules.jetson_image.catalog()}
    assert kinds == {"admin/l4t-base": ("template", None),
                     "alice/l4t-base": ("working copy", "admin/l4t-base"),
                     "alice/cuda-dev": ("image", None), "bob/private": ("image", None)}


def test_a_bad_request_is_refused_whole(modules, store):
    for bad in (None, [], [{"board": "jtk1", "template": "admin/l4t-base"}], ["jtk1"],
                [{"template": "admin/l4t-base", "user": 3}]):
        with pytest.raises(SaltInvocationError, match="copies must be a non-empty list"):
            modules.jetson_image.working_copies(bad)
    ret = modules.jetson_image.working_copies([{"template": "bob/private", "user": "alice"},
                                               {"template": "admin/l4t-base", "user": "../x"}])
    assert ret["failed"]["alice/private"].startswith("bob/private is not a template for alice")
    assert "invalid user name '../x'" in ret["failed"]["../x/l4t-base"]
