"""jetson-image's core without a second account: who the caller is, the site config, names,
quota, progress lines."""

import io
import os
import pwd

import pytest
import yaml

from jetson_farm.errors import InvalidName, JetsonError, NotAllowed, NotFound, Refused
from jetson_farm.selfservice import caller as caller_mod
from jetson_farm.selfservice.cli import Progress, command_line
from jetson_farm.selfservice.images import QuotaExceeded, SelfService, human
from jetson_farm.selfservice.progress import Passes, position_of_other_reader
from tests.unit.test_rootfs_helpers import add_image, make_site
from tests.unit.test_rootfs_tarball import make_tar, member, sample_members


@pytest.fixture
def site(pillar):
    pillar["users"]["bob"]["quota_gb"] = 0.0001  # about 105 kB
    pillar["images"]["bob/private"] = {"shared": ["alice"]}
    site = make_site(pillar)
    site.layout.ensure()
    for image in ("admin/l4t-base", "bob/private", "alice/dev"):
        add_image(site, image)
    return site


def test_the_caller_is_who_sudo_names_and_only_root_itself_is_an_admin():
    nobody = pwd.getpwnam("nobody")
    caller = caller_mod.who_calls({"SUDO_UID": str(nobody.pw_uid), "SUDO_USER": "root"}, euid=0)
    assert (caller.name, caller.uid, caller.admin) == ("nobody", nobody.pw_uid, False)  # not SUDO_USER
    assert caller_mod.who_calls({}, euid=0).admin is True
    assert caller_mod.who_calls({"SUDO_UID": "0"}, euid=0).admin is True
    with pytest.raises(caller_mod.NeedsRoot, match="run it through its sudo rule"):
        caller_mod.who_calls({"SUDO_UID": "0"}, euid=1000)
    with pytest.raises(NotAllowed, match="SUDO_UID 'x' names no account"):
        caller_mod.who_calls({"SUDO_UID": "x"}, euid=0)


def test_the_site_config_is_read_whole_or_refused(pillar, tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"jetson": pillar}))
    assert caller_mod.load_site(str(path)).site.name == "site01"
    pillar["sites"]["site02"] = dict(pillar["sites"]["site01"], minion="site02")
    path.write_text(yaml.safe_dump({"jetson": pillar, "site": "site02"}))
    assert caller_mod.load_site(str(path)).site.name == "site02"
    for text, message in (("[1, 2]", "must hold the jetson pillar under 'jetson:'"),
                          ("jetson: {sites: 3}", "invalid jetson inventory"),
                          ("a: [", "is not valid YAML")):
        path.write_text(text)
        with pytest.raises(JetsonError, match=message):
            caller_mod.load_site(str(path))
    with pytest.raises(JetsonError, match=r"cannot read the site config /nonexistent\.yaml"):
        caller_mod.load_site("/nonexistent.yaml")


def test_names_are_the_users_own_and_shared_images_are_only_read(site):
    alice = SelfService(site, "alice")
    assert alice.own("dev") == alice.own("alice/dev") == "alice/dev"
    with pytest.raises(NotAllowed, match="image bob/x is bob's: you can only name your own images"):
        alice.own("bob/x")
    with pytest.raises(InvalidName):
        alice.own("../etc")
    assert alice.source("bob/private") == "bob/private"  # shared with alice by name
    with pytest.raises(NotAllowed, match="alice/dev is alice's and not shared with you"):
        SelfService(site, "bob").source("alice/dev")
    with pytest.raises(NotAllowed, match="carol is not a user of this farm"):
        SelfService(site, "carol")
    listed = alice.list()
    assert [i["image"] for i in listed["shared"]] == ["admin/l4t-base", "bob/private"]
    assert [i["image"] for i in SelfService(site, "bob").list()["shared"]] == ["admin/l4t-base"]


def test_the_quota_is_checked_before_anything_is_written(site, farm_dir):
    bob = SelfService(site, "bob")
    with pytest.raises(QuotaExceeded, match=r"over quota: cloning admin/l4t-base \(.*\) needs"):
        bob.clone("admin/l4t-base", "copy")
    assert not os.path.exists(site.layout.image_path("bob/copy"))
    unbounded = SelfService(site, "admin").clone("alice/dev", "dev", dry_run=True)  # admin: no quota
    assert unbounded["used_bytes"] is None and unbounded["quota_bytes"] == 0 and unbounded["bytes"] > 0
    assert issubclass(QuotaExceeded, Refused)
    source = make_tar(farm_dir / "ok.tar", sample_members())
    fd = os.open(source, os.O_RDONLY)
    try:
        checked = SelfService(site, "alice").import_tarball("ok", fd, source, dry_run=True)
        assert checked["bytes"] == 26 + 5 + 2  # the regular members' sizes, not the archive's
        assert checked["members"] == 12 and checked["comment"] == f"would import {source} as alice/ok (33 B)"
        assert not os.path.exists(site.layout.image_path("alice/ok"))
        with pytest.raises(JetsonError, match="image alice/dev already exists"):
            SelfService(site, "alice").import_tarball("dev", fd, source)
    finally:
        os.close(fd)
    big = make_tar(farm_dir / "big.tar", [member("big.bin", data=b"x" * 120_000)])
    fd = os.open(big, os.O_RDONLY)
    try:
        with pytest.raises(QuotaExceeded, match=r"over quota: importing .*big.tar \(117.2 kB of files\)"):
            SelfService(site, "bob").import_tarball("big", fd, big)
    finally:
        os.close(fd)
    assert sorted(os.listdir(site.layout.images_dir)) == ["admin", "alice", "bob"]  # no staging
    with pytest.raises(NotFound, match="is not a regular file"):
        caller_mod.open_as(caller_mod.ROOT, str(farm_dir))


def test_a_file_that_is_no_tarball_says_so(site, farm_dir):
    path = farm_dir / "notes.txt"
    path.write_text("hello\n" * 200)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(JetsonError, match=f"{path} is not a readable tarball"):
            SelfService(site, "alice").import_tarball("notes", fd, str(path))
    finally:
        os.close(fd)
    assert not [n for n in os.listdir(site.layout.images_dir) if n.startswith(".")]


def test_the_store_s_reads_are_followed_pass_by_pass(farm_dir):
    path = farm_dir / "data.bin"
    path.write_bytes(b"x" * 10_000)
    mine, theirs = os.open(path, os.O_RDONLY), os.open(path, os.O_RDONLY)
    try:
        assert position_of_other_reader(mine) == 0
        os.lseek(theirs, 7_000, os.SEEK_SET)
        assert position_of_other_reader(mine) == 7_000
    finally:
        os.close(mine)
        os.close(theirs)
    passes = Passes()
    assert [passes.update(p) for p in (0, 5_000, 10_000, 512, 8_000, 100)] == \
        ["checking", "checking", "checking", "writing", "writing", "writing"]


def test_progress_lines_every_few_percent_of_large_files_only():
    out = io.StringIO()
    report = Progress("alice/l4t", out)
    report("sizing", 10, 1000)  # a small file: nothing
    size = 200 * 1024**2
    for position in range(0, size + 1, size // 100):
        report("writing", position, size)
    lines = out.getvalue().splitlines()
    assert lines[0] == "jetson-image: alice/l4t: writing 0% of 200.0 MB"
    assert lines[-1] == "jetson-image: alice/l4t: writing 100% of 200.0 MB"
    assert len(lines) == 21
    assert human(1536) == "1.5 kB" and human(3 * 1024**3) == "3.0 GB" and human(12) == "12 B"


def test_a_tarball_of_hostile_members_is_sized_then_refused_by_the_store(site, farm_dir):
    source = make_tar(farm_dir / "evil.tar", [member("etc", data=b"x"), member("etc", data=b"y")])
    fd = os.open(source, os.O_RDONLY)
    try:
        with pytest.raises(JetsonError, match=f"{source}: member 'etc' comes twice"):
            SelfService(site, "alice").import_tarball("evil", fd, source)
    finally:
        os.close(fd)
    assert sorted(os.listdir(site.layout.images_dir)) == ["admin", "alice", "bob"]


def test_run_as_ssh_s_forced_command_it_takes_the_words_the_user_asked_for():
    assert command_line(["list"], {"SSH_ORIGINAL_COMMAND": "remove x"}) == ["list"]
    assert command_line([], {"SSH_ORIGINAL_COMMAND": "jetson-image import l4t 'my rootfs.tbz2'"}) == \
        ["import", "l4t", "my rootfs.tbz2"]
    assert command_line([], {"SSH_ORIGINAL_COMMAND": "/usr/local/bin/jetson-image list; rm -rf /"}) == \
        ["list;", "rm", "-rf", "/"]  # words for argparse, which refuses them: no shell ever sees them
    assert command_line([], {}) == []
    with pytest.raises(SystemExit, match="cannot read the command"):
        command_line([], {"SSH_ORIGINAL_COMMAND": "list 'open"})
