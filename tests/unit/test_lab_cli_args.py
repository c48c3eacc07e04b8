"""``jetson-lab up``'s board counts, from the command line to the lab's config (no daemon started)."""

import subprocess
import sys
from pathlib import Path

import pytest

from jetson_lab import cli, farm
from jetson_lab.config import LabConfig

BIN = Path(sys.executable).parent


def config_of(tmp_path, *argv):
    args = cli._parser().parse_args(["up", "--dir", str(tmp_path / "lab"), *argv])
    return farm.load_or_create(args.dir, args.boards, vm_boards=args.vm_boards, sites=args.sites)


def test_zero_boards_means_zero_for_a_vm_only_lab(tmp_path):
    config = config_of(tmp_path, "--boards", "0", "--vm-boards", "1")
    assert (config.boards, config.vm_boards, config.all_boards) == ([], ["jvm1"], ["jvm1"])
    assert config.site_of("jvm1") == "site01"
    assert LabConfig.read(config.dir).boards == []


def test_no_count_is_the_default_and_then_as_before(tmp_path):
    assert config_of(tmp_path).boards == ["jtk1", "jtk2", "jtk3"]
    assert config_of(tmp_path, "--boards", "0", "--vm-boards", "2").all_boards == ["jvm1", "jvm2"]
    again = config_of(tmp_path)
    assert (again.boards, again.vm_boards) == ([], ["jvm1", "jvm2"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--boards", "-1"], "jetson-lab up: the number of boards must be 0 or more, not -1"),
    (["--vm-boards", "-2"], "jetson-lab up: the number of VM boards must be 0 or more, not -2"),
    (["--boards", "0"], "jetson-lab up: a lab needs at least one board: --boards and --vm-boards are both 0"),
])
def test_up_refuses_a_count_it_cannot_build_before_it_starts_anything(tmp_path, argv, message):
    proc = subprocess.run([str(BIN / "jetson-lab"), "up", "--dir", str(tmp_path / "lab"), *argv],
                          capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stderr.strip()) == (1, message)
    assert not (tmp_path / "lab" / "lab.json").exists()


def test_up_still_refuses_more_sites_than_process_boards(tmp_path):
    with pytest.raises(farm.LabError, match="2 sites need at least 2 boards, not 0"):
        config_of(tmp_path, "--boards", "0", "--vm-boards", "2", "--sites", "2")
