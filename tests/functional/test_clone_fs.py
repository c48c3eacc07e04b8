"""Working copies of a template on real file systems (loop mounts): a reflink clone on btrfs and
XFS (the copy shares the template's extents and costs next to no space), a full copy on ext4;
either way the template is untouched, the copy is the user's own (quota, record), and a copy
that exists is used as is. docs/architecture.md, "The site server"."""

import os

import pytest

from jetson_farm.errors import NotAllowed, Refused
from jetson_farm.rootfs import clone, templates
from jetson_farm.selfservice.images import QuotaExceeded
from tests.conftest import make_pillar
from tests.loopfs import fill, free_bytes, loop_filesystem, missing, shares_extents
from tests.unit.test_rootfs_helpers import add_image, make_site, manifest

BIG_MB = 48
EXPECTED = {"btrfs": "reflink", "xfs": "reflink", "ext4": "copy"}


@pytest.fixture(params=sorted(EXPECTED), scope="module")
def mounted(request):
    why = missing(request.param)
    if why:
        pytest.skip(f"no {request.param} here: {why}")
    with loop_filesystem(request.param) as mount:
        yield request.param, mount


@pytest.fixture
def site(mounted):
    kind, mount = mounted
    farm = os.path.join(mount, "farm")
    pillar = make_pillar(farm)
    pillar["users"]["carol"] = {"email": "carol@example.org", "quota_gb": 0.01}  # 10 MB: too small
    pillar["images"]["bob/private"] = {"shared": False}
    site = make_site(pillar)
    site.layout.ensure()
    template = add_image(site, "admin/l4t-base")
    fill(os.path.join(template, "usr/lib/big.bin"), BIG_MB)
    add_image(site, "bob/private")
    yield kind, mount, site
    for image in [i["image"] for i in site.list_images()]:
        site.remove(image)


def test_a_working_copy_is_a_reflink_where_the_fs_can_and_a_full_copy_elsewhere(site):
    kind, mount, site = site
    template = site.layout.image_path("admin/l4t-base")
    before, free = manifest(template), free_bytes(mount)
    seen = []
    made = templates.ensure_copy(site, "admin/l4t-base", "alice", report=lambda d, t: seen.append((d, t)))
    assert made["made"] is True and made["image"] == "alice/l4t-base"
    assert made["method"] == EXPECTED[kind], made
    copy = site.layout.image_path("alice/l4t-base")
    assert manifest(copy) == before and manifest(template) == before
    assert seen and seen[-1][0] == seen[-1][1] == made["bytes"]
    used = free - free_bytes(mount)
    big = BIG_MB * 1024 * 1024
    if made["method"] == "reflink":
        assert shares_extents(os.path.join(copy, "usr/lib/big.bin"))
        assert used < big // 4, f"a reflink clone took {used} bytes"
    else:
        assert not shares_extents(os.path.join(copy, "usr/lib/big.bin"))
        assert used >= big, f"a full copy took only {used} bytes"
    # The copy is alice's: changing it leaves the template as it was.
    with open(os.path.join(copy, "usr/lib/big.bin"), "r+b") as handle:
        handle.write(b"alice was here")
    assert manifest(template) == before
    assert site.usage("alice")["alice"]["bytes"] >= big  # a copy counts in full against her quota
    listed = {i["image"]: i for i in site.list_images()}
    assert templates.describe(site, listed["admin/l4t-base"])["kind"] == "template"
    described = templates.describe(site, listed["alice/l4t-base"])
    assert (described["kind"], described["template"], described["method"]) == \
        ("working copy", "admin/l4t-base", EXPECTED[kind])


def test_a_copy_that_exists_is_used_as_is_and_a_removed_one_forgets_its_template(site):
    _, _, site = site
    assert templates.ensure_copy(site, "admin/l4t-base", "alice")["made"] is True
    again = templates.ensure_copy(site, "admin/l4t-base", "alice")
    assert (again["made"], again["comment"]) == \
        (False, "alice/l4t-base exists (a copy of admin/l4t-base): used as is")
    site.remove("alice/l4t-base")
    assert clone.origin(site, "alice/l4t-base") is None
    add_image(site, "alice/l4t-base")  # her own, not a copy: still used as is, never replaced
    again = templates.ensure_copy(site, "admin/l4t-base", "alice")
    assert again["comment"] == "alice/l4t-base exists (not a copy of it): used as is"
    assert templates.describe(site, site.info("alice/l4t-base") | {"path": site.layout.image_path(
        "alice/l4t-base")})["kind"] == "image"


def test_the_quota_is_checked_before_the_copy_starts(site):
    _, mount, site = site
    free = free_bytes(mount)
    with pytest.raises(QuotaExceeded, match=r"over quota: cloning admin/l4t-base .* carol uses 0 B"):
        templates.ensure_copy(site, "admin/l4t-base", "carol")
    assert not os.path.exists(site.layout.image_path("carol/l4t-base"))
    assert [n for n in os.listdir(site.layout.images_dir) if n.startswith(".")] == []
    assert abs(free_bytes(mount) - free) < 1024 * 1024


def test_only_a_template_shared_with_the_user_is_copied(site):
    _, _, site = site
    with pytest.raises(Refused, match="bob/private is not a template for alice"):
        templates.ensure_copy(site, "bob/private", "alice")
    site.inventory.images["bob/private"] = {"shared": ["carol"]}
    with pytest.raises(NotAllowed, match="bob/private is bob's and not shared with you"):
        templates.ensure_copy(site, "bob/private", "alice")
    assert templates.copy_for(site.inventory, "admin", "admin/l4t-base") is None  # the owner boots it
