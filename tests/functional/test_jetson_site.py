"""jetson_site.prepared: the store and the nfsroots, on one file system, honouring test=True."""



def test_prepared_under_test_changes_nothing_then_creates_once(states, farm_dir):
    would = states.jetson_site.prepared(name="jetson-store", test=True)
    assert would.result is None
    assert str(farm_dir / "NFSRoot1") in would.changes["would create"]
    assert not (farm_dir / "root").exists()

    done = states.jetson_site.prepared(name="jetson-store")
    assert done.result is True
    for path in ("root/images", "root/boards", "root/state", "NFSRoot1", "NFSRoot2"):
        assert (farm_dir / path).is_dir(), path

    again = states.jetson_site.prepared(name="jetson-store")
    assert again.result is True
    assert again.changes == {}


def test_an_nfsroot_that_is_a_file_is_refused(states, farm_dir):
    (farm_dir / "NFSRoot1").write_text("not a folder")
    ret = states.jetson_site.prepared(name="jetson-store")
    assert ret.result is False
    assert f"the nfsroot {farm_dir / 'NFSRoot1'} of board jtk1 is not a directory" in ret.comment
    assert not (farm_dir / "NFSRoot2").exists()
