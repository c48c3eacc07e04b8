"""The harness itself: the site minion sees the farm's pillar through the real master."""


def test_site_minion_sees_the_farm_pillar(farm):
    ret = farm.salt("pillar.item", "jetson", unmask=True)
    assert ret.returncode == 0, ret
    root = ret.data["jetson"]["sites"]["site01"]["root"]
    assert root == str(farm.dir / "root")
