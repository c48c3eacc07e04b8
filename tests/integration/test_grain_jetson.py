"""The board grain ``jetson_marker``: the marker of the booted image, or {} without one.

The lab syncs nothing: its boards and site minion load the grain, as its master and site load
the runner and modules, through the package's ``salt.loader`` entry point.
"""

from tests.lab_fixture import lab_session  # noqa: F401


def test_a_board_reports_the_marker_of_the_image_it_booted(lab):
    result = lab.salt(["jtk3", "grains.item", "jetson_marker"])
    assert result.returncode == 0, result
    # The lab is shared by the session: an earlier test may have switched jtk3 and released it
    # (a new switch id). What it reports must be what the site's state file says it booted.
    state = lab.salt([lab.site, "jetson_rootfs.state", "jtk3"]).of(lab.site)
    assert state["image"] == "admin/l4t-base-jtk3"
    assert result.of("jtk3") == {"jetson_marker": {
        "board": "jtk3", "image": state["image"], "user": state["user"], "switch_id": state["switch_id"]}}


def test_the_lab_daemons_run_what_ships_with_no_synced_copy(lab):
    versions = lab.salt_run(["jetson.check"]).data["versions"]
    assert versions["master"]["synced"] == versions[lab.site]["synced"] == {}, versions


def test_a_minion_without_a_marker_reports_an_empty_dict(lab):
    # The site server is no board: its / holds no marker. It loaded the grain at its start, as it
    # did the site modules, through the package's entry point: nothing is synced.
    result = lab.salt([lab.site, "grains.get", "jetson_marker"])
    assert result.returncode == 0, result
    assert result.of(lab.site) == {}


def test_a_board_back_on_another_marker_reports_the_new_one(lab):
    """The grain is read at boot from what the board mounted, so a re-swap shows after reboot."""
    board, image = "jtk3", "admin/l4t-base-jtk3"
    try:
        lab.power(board, "off")
        assert lab.salt([lab.site, "jetson_nfs.unexport", board]).returncode == 0
        swapped = lab.salt([lab.site, "jetson_rootfs.swap", board, image, "switch_id=grain-test"])
        assert swapped.returncode == 0, swapped
        assert lab.salt([lab.site, "jetson_nfs.export", board]).returncode == 0
        lab.restore(board)
        marker = lab.salt([board, "grains.get", "jetson_marker"]).of(board)
        assert marker["switch_id"] == "grain-test"
    finally:
        lab.power(board, "off")
        lab.salt([lab.site, "jetson_nfs.unexport", board])
        lab.salt([lab.site, "jetson_rootfs.swap", board, image, "switch_id=lab-seed"])
        lab.salt([lab.site, "jetson_nfs.export", board])
        lab.restore(board)
