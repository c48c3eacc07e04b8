"""A clone's copy is bounded in time with or without progress reports (a ``cp`` that hangs on a
dying disk must not hold the store forever)."""

import os
import time

import pytest

from jetson_farm.errors import JetsonError
from jetson_farm.rootfs import clone
from jetson_farm.rootfs.clone import _run_copy


@pytest.mark.parametrize("report", [None, lambda done, total: None], ids=["no-report", "report"])
def test_a_copy_past_its_timeout_is_killed_and_refused(tmp_path, report):
    started = time.monotonic()
    with pytest.raises(JetsonError, match=r"copying x took more than 0.5s; nothing was kept"):
        _run_copy(["sleep", "30"], str(tmp_path), "copying x", 0.5, report, 0)
    assert time.monotonic() - started < 10


def test_progress_is_reported_while_the_copy_runs_and_at_its_end(tmp_path, monkeypatch):
    """The "copy" runs until the first report reaches it through a fifo: that report was made
    while it ran."""
    monkeypatch.setattr(clone, "PROGRESS_EVERY", 0.1)
    fifo = tmp_path / "reported"
    os.mkfifo(fifo)
    seen = []

    def report(done, total):
        if not seen:
            with open(fifo, "w") as copy:
                copy.write("reported\n")
        seen.append(total)

    _run_copy(["sh", "-c", f"read line < {fifo}"], str(tmp_path), "copying x", 30, report, 7)
    assert len(seen) >= 2 and seen[-1] == 7
