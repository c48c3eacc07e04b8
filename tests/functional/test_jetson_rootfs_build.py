"""jetson_rootfs.build through Salt's real loader: a bad recipe or a taken name is refused before
anything runs, with every problem named. (The build itself, minutes of debootstrap, runs in
the e2e tier.)"""

import os

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm.layout import SiteLayout


def test_a_bad_recipe_is_refused_with_every_problem_named(modules):
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_rootfs.build(image="alice/../x", arch="sparc", packages=["ok", "b;ad"],
                                    files={"/etc/shadow": "x"})
    message = str(err.value)
    for part in ("invalid image recipe", "image:", "arch 'sparc'", "package 'b;ad'", "'/etc/shadow'"):
        assert part in message
    with pytest.raises(SaltInvocationError, match="no recipe 'nope' in pillar jetson_recipes"):
        modules.jetson_rootfs.build("nope")
    with pytest.raises(SaltInvocationError, match="recipe must be a pillar recipe name or a mapping"):
        modules.jetson_rootfs.build(["image"])


def test_an_image_not_built_from_the_recipe_is_never_replaced(modules, pillar):
    slot = SiteLayout(pillar["sites"]["site01"]["root"]).image_path("alice/handmade")
    os.makedirs(os.path.join(slot, "etc"))
    with pytest.raises(CommandExecutionError, match="alice/handmade already exists and was not built"):
        modules.jetson_rootfs.build(image="alice/handmade", files={"etc/x": "y"})
    assert os.listdir(slot) == ["etc"]
