"""The site's pending-enrolment record: written before the event, taken once by the master."""

import pytest

from jetson_farm.errors import JetsonError
from jetson_farm.layout import SiteLayout
from jetson_farm.rootfs import enrolment


def test_a_request_is_taken_once(tmp_path):
    layout = SiteLayout(str(tmp_path))
    enrolment.ask(layout, ["jtk3", "jtk1"])
    assert enrolment.take(layout) == ["jtk1", "jtk3"]
    assert enrolment.take(layout) == []


def test_no_request_is_no_board(tmp_path):
    assert enrolment.take(SiteLayout(str(tmp_path))) == []


def test_a_bad_board_name_is_never_recorded(tmp_path):
    with pytest.raises(JetsonError, match="board"):
        enrolment.ask(SiteLayout(str(tmp_path)), ["../jtk1"])


def test_a_damaged_record_is_dropped_with_a_reason(tmp_path):
    layout = SiteLayout(str(tmp_path))
    enrolment.ask(layout, ["jtk1"])
    with open(enrolment.pending_path(layout), "w", encoding="utf-8") as handle:
        handle.write('{"boards": "jtk1"}')
    with pytest.raises(JetsonError, match="held no list of boards"):
        enrolment.take(layout)
    assert enrolment.take(layout) == []
