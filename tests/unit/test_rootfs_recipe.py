"""Image recipes: every problem named, defaults filled, a key that changes with what is built."""

import pytest

from jetson_farm.rootfs import chroot, recipe
from jetson_farm.rootfs.recipe import RecipeError


def test_defaults_and_key_ignores_name_and_mirror():
    one = recipe.parse({"image": "admin/a"}, "amd64")
    assert (one.release, one.arch, one.salt_version) == ("bookworm", "amd64", "3008.3")
    assert "linux-image-cloud-amd64" in one.all_packages() and "openssh-server" in one.all_packages()
    other = recipe.parse({"image": "bob/b", "mirror": "http://mirror.example/debian"}, "amd64")
    assert one.cache_key() == other.cache_key()


def test_files_change_the_key_not_the_base_key():
    plain = recipe.parse({"image": "admin/a"}, "amd64")
    marked = recipe.parse({"image": "admin/a", "files": {"etc/jetson-e2e": "red\n"}}, "amd64")
    assert plain.cache_key() != marked.cache_key()
    assert plain.cache_key(with_files=False) == marked.cache_key(with_files=False)
    arm = recipe.parse({"image": "admin/a", "arch": "arm64"}, "amd64")
    assert arm.kernel == "linux-image-arm64" and arm.cache_key() != plain.cache_key()


def test_every_problem_is_named_at_once():
    with pytest.raises(RecipeError) as err:
        recipe.parse({"image": "../etc", "release": "Bookworm;rm", "arch": "sparc", "packages": ["ok", "b@d"],
                      "files": {"/etc/passwd": "x", "etc/../x": "y"}, "salt_version": "latest",
                      "mirror": "ftp://x", "colour": "red"}, "amd64")
    message = str(err.value)
    for part in ("image:", "release 'Bookworm;rm'", "arch 'sparc'", "package 'b@d'", "'/etc/passwd'",
                 "'etc/../x'", "salt_version 'latest'", "mirror 'ftp://x'", "unknown key 'colour'"):
        assert part in message
    with pytest.raises(RecipeError, match="must be a mapping"):
        recipe.parse(["image"], "amd64")


def test_mirror_from_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    listed = tmp_path / "sources.list.d"
    (tmp_path / "sources.list").write_text(
        "# nothing\ndeb [arch=amd64] http://one.example/debian bullseye main\n")
    (listed / "debian.sources").write_text(
        "Types: deb\nURIs: http://two.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://two.example/debian-security\nSuites: bookworm-security\n")
    (listed / "other.list.disabled").write_text("deb http://three.example/debian bookworm main\n")
    sources = (str(tmp_path / "sources.list"), str(tmp_path / "sources.list.d"))
    assert chroot.debian_mirror("bookworm", sources) == "http://two.example/debian"
    assert chroot.debian_mirror("bullseye", sources) == "http://one.example/debian"
    assert chroot.debian_mirror("trixie", sources) == "http://one.example/debian"
    assert chroot.debian_mirror("bookworm", (str(tmp_path / "none"),)) == chroot.DEFAULT_MIRROR
