"""jetson_power refuses bad input with a clear message, through Salt's loader."""

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from tests.conftest import make_pillar


@pytest.fixture
def pillar(farm_dir, request):
    """Three boards, jtk3 on another site; parametrised: ``{board: power mapping}`` to put in."""
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    pillar["sites"]["site02"] = {"minion": "site02", "root": str(farm_dir / "root2")}
    pillar["boards"]["jtk3"]["site"] = "site02"
    for board, power in getattr(request, "param", {}).items():
        pillar["boards"][board]["power"] = power
    return pillar


@pytest.mark.parametrize("pillar", [{"jtk1": {"driver": "http"}}], indirect=True)
def test_missing_url_is_named_and_refuses_the_inventory(modules):
    # One board's bad power settings refuse the inventory as a whole, for every board.
    for board in ("jtk1", "jtk2"):
        with pytest.raises(CommandExecutionError) as err:
            modules.jetson_power.on(board)
        assert str(err.value) == ("invalid jetson inventory: boards.jtk1.power: driver http needs at least "
                                  "one of the URLs on, off, cycle")


@pytest.mark.parametrize("pillar", [{"jtk2": {"driver": "ipmi", "host": "bmc2", "user": "admin",
                                              "password": "in-the-pillar", "hots": "bmc2"}}], indirect=True)
def test_a_password_in_the_pillar_is_refused(modules):
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.status("jtk2")
    message = str(err.value)
    assert "boards.jtk2.power.password: not allowed: never the password itself" in message
    assert "boards.jtk2.power.hots: unknown key (did you mean 'host'?)" in message
    assert ("driver ipmi needs exactly one of password_file, password_env (never the password itself)"
            in message)
    assert "in-the-pillar" not in message


def test_a_board_of_another_site_is_refused(modules):
    with pytest.raises(CommandExecutionError, match=(
            r"board jtk3 belongs to site site02, not to this minion's site site01")):
        modules.jetson_power.capabilities("jtk3")


def test_unknown_and_invalid_board_names(modules):
    with pytest.raises(CommandExecutionError, match=r"unknown board 'jtk9': it is not in the jetson pillar"):
        modules.jetson_power.status("jtk9")
    with pytest.raises(SaltInvocationError, match=r"invalid board name '\.\./etc'"):
        modules.jetson_power.status("../etc")
    with pytest.raises(SaltInvocationError, match=r"board is required"):
        modules.jetson_power.status("")


@pytest.mark.parametrize("pillar", [{"jtk1": {"driver": "telnet"}}, {"jtk1": {"driver": None}}],
                         indirect=True)
def test_an_unknown_driver_is_refused(modules, pillar):
    driver = pillar["boards"]["jtk1"]["power"]["driver"]
    with pytest.raises(CommandExecutionError, match=(
            rf"boards.jtk1.power.driver: {driver!r} is not one of \('salt', 'ssh', 'wol', 'http', "
            r"'ipmi', 'lab'\)")):
        modules.jetson_power.status("jtk2")
