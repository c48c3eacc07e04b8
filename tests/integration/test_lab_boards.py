"""Lab boards are real salt-minions in network namespaces that boot from their NFS export."""

import pytest

from jetson_farm.errors import NotFound
from jetson_lab.errors import LabError
from tests.lab_fixture import lab_session  # noqa: F401

BOARD = "jtk2"  # the board these tests power around; jtk1 stays up for the others


def _off_everywhere(lab, board):
    """Powered off: no ping, no NFS session, no minion."""
    assert lab.status(board)["power"] == "off"
    assert not lab.pings(board)
    assert lab.nfs_sessions(board) == []
    assert not lab.minion_answers(board)


def _wait_boot_error(lab):
    """The board's status once a boot attempt has failed."""
    return lab.wait_for(lambda: (s := lab.status(BOARD))["boot_error"] and s, f"{BOARD} failing to boot")


def test_a_powered_on_board_is_a_minion_with_its_marker_address_and_nfs_session(lab):
    status = lab.status("jtk1")
    assert status["power"] == "on"
    assert status["minion"] == "ready"
    assert lab.minion_answers("jtk1")
    # The lab is shared by the session: the board may run whatever an earlier test switched it
    # to. What it reports must be what the site's state files say sits at its nfsroot.
    state = lab.salt([lab.site, "jetson_rootfs.state", "jtk1"]).of(lab.site)
    grain = lab.salt(["jtk1", "grains.get", "jetson_marker"])
    assert grain.returncode == 0, grain
    assert grain.of("jtk1") == {"board": "jtk1", "image": state["image"], "user": state["user"],
                                "switch_id": state["switch_id"]}
    assert lab.pings("jtk1")
    assert len(lab.nfs_sessions("jtk1")) == 1
    # The board's minion knows only its runtime dir: the rootfs it sees is its RAM copy.
    root = lab.salt(["jtk1", "config.get", "jetson_root"])
    assert root.of("jtk1") == str(lab.dir / "run" / "jtk1" / "root")


def test_the_site_sees_the_boards_nfs_session(lab):
    result = lab.salt([lab.site, "jetson_nfs.clients", f"ip={lab.ip('jtk1')}"])
    assert result.returncode == 0, result
    assert any(c.get("via") == "tcp" and c["ip"] == lab.ip("jtk1") for c in result.of(lab.site))


def test_power_off_on_and_cycle(lab):
    try:
        off = lab.power(BOARD, "off")
        assert off["power"] == "off" and off["minion"] == "off"
        _off_everywhere(lab, BOARD)
        on = lab.power(BOARD, "on")
        assert on["power"] == "on"
        lab.wait_up(BOARD)
        assert lab.pings(BOARD)
        assert len(lab.nfs_sessions(BOARD)) == 1
        boots = lab.status(BOARD)["boots"]
        cycled = lab.power(BOARD, "cycle")
        assert cycled["power"] == "on"
        lab.wait_up(BOARD)
        assert lab.status(BOARD)["boots"] == boots + 1
    finally:
        lab.restore(BOARD)


def test_system_reboot_on_the_board_cycles_it_through_the_supervisor(lab):
    boots = lab.status(BOARD)["boots"]
    result = lab.salt([BOARD, "system.reboot"])
    assert result.returncode == 0, result
    assert result.of(BOARD)["rebooting"] is True
    lab.wait_for(lambda: lab.status(BOARD)["boots"] == boots + 1, f"{BOARD} booting again")
    lab.wait_up(BOARD)
    # The host is fine: this test still runs, and the site minion still answers.
    assert lab.salt([lab.site, "test.ping"]).of(lab.site) is True


def test_system_poweroff_on_the_board_leaves_it_off(lab):
    try:
        result = lab.salt([BOARD, "system.poweroff"])
        assert result.returncode == 0, result
        lab.wait_for(lambda: lab.status(BOARD)["power"] == "off", f"{BOARD} powering off")
        _off_everywhere(lab, BOARD)
    finally:
        lab.restore(BOARD, wait=False)  # the next test powers it off first


def peers(lab):
    """The board's ends (address:port) of its NFS connections, as the host sees them."""
    return {line.split()[-1] for line in lab.nfs_sessions(BOARD)}


def test_an_unexported_nfsroot_never_brings_the_minion_up(lab):
    try:
        lab.power(BOARD, "off")
        # A hard off may leave the host's end of the board's last NFS connection open for a while
        # (its FIN never left): only a connection that is not one of those is a new session.
        old = peers(lab)
        assert lab.salt([lab.site, "jetson_nfs.unexport", BOARD]).returncode == 0
        lab.power(BOARD, "on")
        status = _wait_boot_error(lab)
        assert status["power"] == "on" and status["minion"] == "boot_failed"
        assert "cannot read etc/salt/minion_id" in status["boot_error"]
        assert lab.pings(BOARD)  # on, but not booted
        assert peers(lab) <= old
        assert not lab.minion_answers(BOARD)
    finally:
        assert lab.salt([lab.site, "jetson_nfs.export", BOARD]).returncode == 0
    # Like a board that panics and retries, it boots once its export is back.
    lab.restore(BOARD)


def test_an_empty_nfsroot_never_brings_the_minion_up(lab):
    image = f"admin/l4t-base-{BOARD}"
    lab.power(BOARD, "off")
    try:
        assert lab.salt([lab.site, "jetson_nfs.unexport", BOARD]).returncode == 0
        parked = lab.salt([lab.site, "jetson_rootfs.park", BOARD])
        assert parked.returncode == 0, parked
        assert lab.salt([lab.site, "jetson_nfs.export", BOARD]).returncode == 0
        lab.power(BOARD, "on")
        status = _wait_boot_error(lab)
        assert status["minion"] == "boot_failed"
        assert "etc/salt/minion_id" in status["boot_error"]
        assert not lab.minion_answers(BOARD)
    finally:
        lab.power(BOARD, "off")
        assert lab.salt([lab.site, "jetson_nfs.unexport", BOARD]).returncode == 0
        swapped = lab.salt([lab.site, "jetson_rootfs.swap", BOARD, image, "switch_id=lab-seed"])
        assert swapped.returncode == 0, swapped
        assert lab.salt([lab.site, "jetson_nfs.export", BOARD]).returncode == 0
    lab.restore(BOARD, wait=False)  # the next test power-cycles it first


def test_fault_no_boot_keeps_the_minion_down_until_cleared(lab):
    try:
        assert lab.fault(BOARD, "no_boot")["faults"] == ["no_boot"]
        lab.power(BOARD, "cycle")
        status = _wait_boot_error(lab)
        assert status["boot_error"] == f"board {BOARD} does not boot (fault no_boot)"
        assert not lab.minion_answers(BOARD)
    finally:
        lab.restore(BOARD)  # clearing the fault lets the retrying board boot


def test_fault_ignore_reboot_makes_system_reboot_do_nothing(lab):
    try:
        lab.fault(BOARD, "ignore_reboot")
        boots = lab.status(BOARD)["boots"]
        result = lab.salt([BOARD, "system.reboot"])
        assert result.returncode == 0, result
        assert result.of(BOARD)["ignored"] == "ignore_reboot"
        assert lab.minion_answers(BOARD)
        assert lab.status(BOARD)["boots"] == boots
        # Hard power still works on a board that ignores soft reboots.
        assert lab.power(BOARD, "off")["power"] == "off"
    finally:
        lab.restore(BOARD)


def test_fault_stuck_on_ignores_soft_and_hard_power(lab):
    try:
        lab.fault(BOARD, "stuck_on")
        boots = lab.status(BOARD)["boots"]
        off = lab.power(BOARD, "off")
        assert off["power"] == "on" and off["ignored"] == "stuck_on"
        cycled = lab.power(BOARD, "cycle")
        assert cycled["ignored"] == "stuck_on"
        assert lab.salt([BOARD, "system.reboot"]).of(BOARD)["ignored"] == "stuck_on"
        assert lab.pings(BOARD) and lab.minion_answers(BOARD)
        assert lab.status(BOARD)["boots"] == boots
        cleared = lab.fault(BOARD, "clear")
        assert cleared["faults"] == []
        assert lab.power(BOARD, "off")["power"] == "off"
    finally:
        lab.restore(BOARD, wait=False)  # the next test of BOARD powers it off first


def test_bad_requests_get_clear_errors(lab):
    with pytest.raises(NotFound, match=r"lab board 'jtk9' is not in lab"):
        lab.power("jtk9", "on")
    with pytest.raises(LabError, match=r"unknown power action 'explode' for lab board 'jtk1'"):
        lab.power("jtk1", "explode")
    with pytest.raises(LabError, match=r"unknown fault 'melt' for lab board 'jtk1'"):
        lab.fault("jtk1", "melt")
    assert lab.status("jtk1")["faults"] == []


def test_the_site_sees_a_powered_off_board_idle(lab):
    try:
        lab.power(BOARD, "off")
        result = lab.salt([lab.site, "jetson_nfs.wait_idle", BOARD, "timeout=15"])
        assert result.returncode == 0, result
    finally:
        lab.restore(BOARD)


def test_reset_gives_the_lab_back_as_it_came_up(lab):
    """What the ``lab`` fixture does when a module is done, here on a mess made on purpose."""
    pillar = lab.pillar
    pillar["boards"][BOARD]["boot_timeout"] = 7
    lab.write_pillar(pillar)
    assert lab.salt_run(["jetson.quarantine", f"board={BOARD}", "reason=reset test"]).returncode == 0
    lab.power(BOARD, "off")
    lab.fault(BOARD, "no_boot")
    lab.reset()
    assert lab.pillar == lab.first_pillar
    status = lab.status(BOARD)
    assert (status["power"], status["minion"], status["faults"]) == ("on", "ready", [])
    assert lab.minion_answers(BOARD)
    row = lab.salt_run(["jetson.status"]).data[BOARD]
    assert (row["state"], row["image"]) == ("up", lab.first_pillar["boards"][BOARD]["image"])
