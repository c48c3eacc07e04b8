"""The functional loader compiles the farm's pillar and loads Salt's own modules."""


def test_loader_compiles_the_farm_pillar(loaders, farm_dir):
    assert loaders.pillar["jetson"]["sites"]["site01"]["root"] == str(farm_dir / "root")
    assert loaders.modules.test.ping() is True
