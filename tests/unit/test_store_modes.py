"""store_modes: the store's folders, their owners and modes, and what is refused."""

import os

import pytest

from jetson_farm.errors import Refused
from jetson_farm.rootfs import store_modes


def test_a_new_store_is_all_missing_then_right(tmp_path):
    root = tmp_path / "root"
    missing, fixes = store_modes.plan(str(root))
    assert missing == [str(root), *(str(root / d) for d in ("images", "boards", "state", "attic"))]
    assert fixes == {}
    store_modes.apply(str(root))
    assert store_modes.plan(str(root)) == ([], {})
    assert oct(os.stat(root / "attic").st_mode & 0o777) == "0o700"


def test_a_wrong_mode_is_fixed(tmp_path):
    root = tmp_path / "root"
    store_modes.apply(str(root))
    os.chmod(root / "state", 0o777)
    assert store_modes.plan(str(root)) == ([], {str(root / "state"): "mode 0777 -> 0755"})
    store_modes.apply(str(root))
    assert os.stat(root / "state").st_mode & 0o777 == 0o755


def test_root_may_be_a_symlink_but_nothing_below_it(tmp_path):
    real = tmp_path / "disk"
    store_modes.apply(str(real))
    (tmp_path / "root").symlink_to(real)
    assert store_modes.plan(str(tmp_path / "root")) == ([], {})
    os.rmdir(real / "images")
    (real / "images").symlink_to(tmp_path)
    with pytest.raises(Refused, match=r"images is a symlink: the store's folders must be real folders"):
        store_modes.plan(str(tmp_path / "root"))


def test_a_file_where_a_folder_must_be_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "boards").write_text("oops")
    with pytest.raises(Refused, match=r"boards is not a folder"):
        store_modes.plan(str(root))
