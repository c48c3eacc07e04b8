"""`state.apply jetson.site` on a real site minion, through the real master."""

import os

from tests.integration.site_env import site_farm  # noqa: F401 (fixture: exports of its own)


def test_site_state_prepares_the_store_then_changes_nothing(site_farm):  # noqa: F811
    farm = site_farm
    ret = farm.salt("state.apply", "jetson.site", test=True)
    assert ret.returncode == 0, ret
    assert not (farm.dir / "root").exists()

    ret = farm.salt("state.apply", "jetson.site")
    assert ret.returncode == 0, ret
    store = next(v for k, v in ret.data.items() if k.startswith("jetson_site_|-jetson-store"))
    assert store["result"] is True
    assert str(farm.dir / "NFSRoot1") in store["changes"]["created"]
    assert (farm.dir / "root" / "images").is_dir()

    again = farm.salt("state.apply", "jetson.site")
    store = next(v for k, v in again.data.items() if k.startswith("jetson_site_|-jetson-store"))
    assert store["changes"] == {}


def test_site_state_refuses_an_nfsroot_on_another_file_system(site_farm):  # noqa: F811
    farm = site_farm
    shm = f"/dev/shm/jetson-test-{farm.dir.name}"
    os.makedirs(shm)
    try:
        farm.pillar["boards"]["jtk2"]["nfsroot"] = f"{shm}/NFSRoot2"
        farm.apply_pillar()
        ret = farm.salt("state.apply", "jetson.site")
        assert ret.returncode != 0
        store = next(v for k, v in ret.data.items() if k.startswith("jetson_site_|-jetson-store"))
        assert store["result"] is False
        assert "are on different file systems" in store["comment"]
        assert "board jtk2" in store["comment"]
        assert not (farm.dir / "root").exists(), "nothing may be made when the check fails"
        assert not os.path.exists(f"{shm}/NFSRoot2")
    finally:
        os.rmdir(shm)
