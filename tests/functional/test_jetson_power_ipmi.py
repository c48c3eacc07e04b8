"""jetson_power with the ipmi driver: real ipmitool against OpenIPMI's ipmi_sim BMC on loopback."""

import os

import pytest
from salt.exceptions import CommandExecutionError

from jetson_farm.pillar import site_context
from jetson_farm.power import driver_for
from jetson_lab.ipmi_sim import IpmiSim
from tests.conftest import make_pillar

PASSWORD_ENV = "JETSON_TEST_BMC_PASSWORD"


@pytest.fixture(scope="module")
def bmc(tmp_path_factory):
    with IpmiSim(tmp_path_factory.mktemp("bmc")) as bmc:
        yield bmc


@pytest.fixture
def pillar(farm_dir, bmc):
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    bmc_settings = {"driver": "ipmi", "host": bmc.host, "port": bmc.port, "user": bmc.user, "timeout": 20}
    pillar["boards"]["jtk1"]["power"] = dict(bmc_settings, password_file=bmc.password_file)
    pillar["boards"]["jtk2"]["power"] = dict(bmc_settings, password_env=PASSWORD_ENV, interface="lan")
    pillar["boards"]["jtk3"]["power"] = dict(bmc_settings, password_file=str(farm_dir / "wrong-password"))
    (farm_dir / "wrong-password").write_text("not-the-password\n")
    return pillar


@pytest.fixture
def password_env(bmc):
    os.environ[PASSWORD_ENV] = bmc.password
    yield
    os.environ.pop(PASSWORD_ENV, None)


def test_on_status_off_through_the_bmc(modules, bmc):
    power = modules.jetson_power
    assert power.off("jtk1")["power"] == "off" and bmc.power() == "off"
    assert power.status("jtk1")["power"] == "off"
    assert power.on("jtk1") == {"board": "jtk1", "driver": "ipmi", "action": "on", "did": "on", "power": "on"}
    assert bmc.power() == "on"
    assert power.status("jtk1")["power"] == "on"
    assert bmc.calls()[-2:] == ["set power 1", "get power"]


def test_cycle_and_soft_reboot(modules, bmc):
    modules.jetson_power.on("jtk1")
    before = len(bmc.calls())
    assert modules.jetson_power.cycle("jtk1")["did"] == "cycle"
    assert "set power 0" in bmc.calls()[before:]
    modules.jetson_power.on("jtk1")
    report = modules.jetson_power.reboot("jtk1")
    assert report["did"] == "soft-off"
    assert bmc.calls()[-1] == "set shutdown 1" and bmc.power() == "off"


def test_password_from_the_environment_over_ipmi_lan(modules, bmc, password_env):
    modules.jetson_power.off("jtk2")
    assert modules.jetson_power.status("jtk2")["power"] == "off"
    assert modules.jetson_power.on("jtk2")["power"] == "on" and bmc.power() == "on"


def test_missing_password_variable_is_a_clear_error(modules):
    os.environ.pop(PASSWORD_ENV, None)
    with pytest.raises(CommandExecutionError, match=(
            rf"board jtk2, power driver ipmi: on failed: the environment variable {PASSWORD_ENV} "
            r"\(the BMC password\) is not set on the site minion")):
        modules.jetson_power.on("jtk2")


def test_a_wrong_password_is_a_clear_error(modules, bmc):
    state = bmc.power()
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.off("jtk3")
    assert str(err.value).startswith(
        f"board jtk3, power driver ipmi: off failed: ipmitool chassis power off on {bmc.host}:{bmc.port} "
        "exited 1: ")
    assert bmc.power() == state


def test_the_password_never_reaches_the_command_line(loaders, bmc):
    inventory, site = site_context(loaders.pillar, "site01")
    for board in ("jtk1", "jtk2"):
        argv = driver_for(inventory.board(board), site.root).argv("on")
        assert bmc.password not in argv
        assert argv[-3:] == ["chassis", "power", "on"]
