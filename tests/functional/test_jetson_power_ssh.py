"""jetson_power with the ssh driver: the real ssh client against a real sshd on loopback.

The sshd (jetson_lab.ssh_board) accepts one key, forced to a recorder: "reboot" is written
down, never run.
"""

import shutil

import pytest
from salt.exceptions import CommandExecutionError

from jetson_lab.ssh_board import SshBoard
from tests.conftest import make_pillar


@pytest.fixture(scope="module")
def ssh_board(tmp_path_factory):
    with SshBoard(tmp_path_factory.mktemp("ssh-board")) as board:
        yield board


@pytest.fixture
def pillar(farm_dir, ssh_board):
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    power = {"driver": "ssh", "host": ssh_board.host, "port": ssh_board.port, "timeout": 10,
             "known_hosts": str(farm_dir / "known_hosts")}
    pillar["boards"]["jtk1"]["power"] = dict(power, key=ssh_board.client_key)
    # A key the board does not know.
    stranger = farm_dir / "stranger_ed25519"
    shutil.copy(ssh_board.host_key, stranger)
    pillar["boards"]["jtk2"]["power"] = dict(power, key=str(stranger))
    # No key given: the default under the site root, which does not exist here.
    pillar["boards"]["jtk3"]["power"] = {k: v for k, v in power.items()}
    return pillar


def test_reboot_runs_reboot_on_the_board_over_ssh(modules, ssh_board, farm_dir):
    before = len(ssh_board.commands())
    report = modules.jetson_power.reboot("jtk1")
    assert report == {"board": "jtk1", "driver": "ssh", "action": "reboot", "did": "soft-reboot",
                      "power": "unknown"}
    assert ssh_board.commands()[before:] == ["reboot"]
    # The board's host key was learnt on first use, in the farm's own known_hosts.
    assert f"[{ssh_board.host}]:{ssh_board.port}" in (farm_dir / "known_hosts").read_text()
    modules.jetson_power.reboot("jtk1")
    assert ssh_board.commands()[before:] == ["reboot", "reboot"]


def test_a_refused_key_is_a_clear_error(modules, ssh_board):
    before = len(ssh_board.commands())
    with pytest.raises(CommandExecutionError) as err:
        modules.jetson_power.reboot("jtk2")
    assert str(err.value).startswith(
        f"board jtk2, power driver ssh: reboot failed: ssh root@{ssh_board.host} port {ssh_board.port} "
        "exited 255: ")
    assert "Permission denied (publickey)" in str(err.value)
    assert ssh_board.commands()[before:] == []


def test_a_missing_key_is_a_clear_error(modules, farm_dir):
    with pytest.raises(CommandExecutionError, match=(
            rf"board jtk3, power driver ssh: reboot failed: no ssh key at {farm_dir}/root/power/id_ed25519 "
            r"on the site server")):
        modules.jetson_power.reboot("jtk3")


def test_ssh_has_no_hard_power(modules):
    with pytest.raises(CommandExecutionError, match=(
            r"board jtk1, power driver ssh: off is not possible: this driver has no hard power off")):
        modules.jetson_power.off("jtk1")
    caps = modules.jetson_power.capabilities("jtk1")
    assert caps["actions"] == ["reboot"] and caps["hard_power"] is False and caps["reboot"] == "soft-reboot"
