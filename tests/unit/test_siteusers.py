"""jetson_farm.siteusers without Salt: key checks, the sshd drop-in, and retiring into the attic
(a user with no account here: the image and keys parts; accounts are the integration test's)."""

import base64
import datetime
import os

import pytest

from jetson_farm import siteusers
from jetson_farm.errors import Refused
from jetson_farm.rootfs import store
from tests.conftest import make_pillar
from tests.unit.test_rootfs_helpers import add_image, make_site, manifest


def key(kind="ssh-ed25519", comment="alice@laptop"):
    blob = len(kind).to_bytes(4, "big") + kind.encode() + (32).to_bytes(4, "big") + b"k" * 32
    return f"{kind} {base64.b64encode(blob).decode()} {comment}".rstrip()


def test_a_plain_key_of_a_known_type_passes():
    assert siteusers.check_key("alice", 0, key()) == key()
    assert siteusers.check_key("alice", 0, key("ssh-rsa", "")) == key("ssh-rsa", "")


@pytest.mark.parametrize(("line", "reason"), [
    (f'command="sh" {key()}', "key type 'command=\"sh\"' is not one of"),
    (key("ssh-foo"), "key type 'ssh-foo' is not one of"),
    (key() + "\nssh-ed25519 AAAA x", "not one line of printable text"),
    (key(comment="a\x00b"), "not one line of printable text"),
    ("ssh-ed25519 AAAA*== x", "not valid base64"),
    ("ssh-ed25519 " + key("ssh-rsa").split()[1], "the key's data is not a ssh-ed25519 key"),
])
def test_a_bad_key_is_refused_naming_the_user_and_the_key(line, reason):
    with pytest.raises(siteusers.BadKey) as err:
        siteusers.authorized_keys("alice", [key(), line])
    assert str(err.value).startswith("user alice: ssh_keys[1]: ")
    assert reason in str(err.value)


def test_the_keys_file_holds_exactly_the_pillar_keys():
    text = siteusers.authorized_keys("alice", [key(), key("ssh-rsa", "work")])
    assert text.splitlines()[1:] == [key(), key("ssh-rsa", "work")]
    assert text.splitlines()[0].startswith("# jetson-farm: the keys of alice")


def test_the_drop_in_forwards_to_the_site_boards_port_22_only(tmp_path):
    pillar = make_pillar(tmp_path, boards=("jtk1", "jtk2", "jtk3"))
    pillar["sites"]["site01"]["jump_host"] = {"enabled": True}
    site = make_site(pillar)
    text = siteusers.sshd_text("site01", site.site.jump_host, [b.ip for b in site.boards()])
    lines = [line.strip() for line in text.splitlines()]
    assert "PermitOpen 127.0.11.1:22 127.0.12.1:22 127.0.13.1:22" in lines
    for line in ("PasswordAuthentication no", "KbdInteractiveAuthentication no", "Match Group jetson-users",
                 "ForceCommand sudo -n /usr/local/bin/jetson-image", "AllowTcpForwarding local",
                 "PermitTTY no",
                 "AuthorizedKeysFile /etc/ssh/jetson-farm/authorized_keys/%u", "X11Forwarding no",
                 "AllowAgentForwarding no", "AllowStreamLocalForwarding no", "PermitTunnel no"):
        assert line in lines
    assert lines.index("PasswordAuthentication no") < lines.index("Match Group jetson-users")
    assert "PermitOpen none" in siteusers.sshd_text("site01", site.site.jump_host, [])


def test_without_a_jump_host_the_plan_is_empty(tmp_path):
    pillar = make_pillar(tmp_path)
    plan = siteusers.plan(make_site(pillar), pillar)
    assert plan["enabled"] is False and plan["users"] == {} and plan["previous"] == []


@pytest.fixture
def site_with_leaver(farm_dir):
    """A jump-host site whose pillar no longer has carol; her images and keys file are still here."""
    pillar = make_pillar(farm_dir)
    pillar["sites"]["site01"]["jump_host"] = {"enabled": True, "group": "jetson-unit-nogroup",
                                             "keys_dir": str(farm_dir / "keys")}
    for user in ("alice", "bob"):
        pillar["users"][user]["ssh_keys"] = [key()]
    site = make_site(pillar)
    site.layout.ensure()
    add_image(site, "carol/one")
    add_image(site, "carol/two")
    (farm_dir / "keys").mkdir()
    (farm_dir / "keys" / "carol").write_text(key() + "\n")
    return site, pillar


def test_a_user_who_left_pillar_is_retired_into_the_attic_intact(site_with_leaver, farm_dir):
    site, pillar = site_with_leaver
    before = manifest(site.layout.user_dir("carol"))
    plan = siteusers.plan(site, pillar)
    assert plan["previous"] == ["carol"] and sorted(plan["users"]) == ["admin", "alice", "bob"]
    assert plan["users"]["alice"]["error"] is None
    would = siteusers.retire(site, "carol", test=True)
    assert set(would["changes"]) == {"images", "keys"}
    assert os.path.isdir(site.layout.user_dir("carol"))  # a test run changes nothing
    done = siteusers.retire(site, "carol")
    attic = farm_dir / "root" / "attic" / f"carol-{datetime.date.today().isoformat()}"
    assert done["changes"]["images"].endswith(f"-> {attic}")
    assert manifest(attic) == before
    assert not os.path.exists(site.layout.user_dir("carol")) and not (farm_dir / "keys" / "carol").exists()
    assert siteusers.retire(site, "carol")["changes"] == {}
    assert siteusers.plan(site, pillar)["previous"] == []


def test_a_user_with_an_image_at_a_board_or_booked_is_refused_with_the_reason(site_with_leaver):
    site, _ = site_with_leaver
    state = site.load_state("jtk1")
    state.update(image="carol/one", user="carol")
    site.save_state("jtk1", state)
    os.rename(site.layout.image_path("carol/one"), site.board("jtk1").nfsroot)
    with pytest.raises(Refused, match="user carol cannot be retired yet: image carol/one is at board jtk1"):
        siteusers.retire(site, "carol", test=True)
    os.rename(site.board("jtk1").nfsroot, site.layout.image_path("carol/one"))
    site.save_state("jtk1", dict(state, image=None, user=None))
    end = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat()
    store.set_bookings(site, [{"image": "admin/l4t-base", "board": "jtk2", "user": "carol",
                               "start": "2026-01-01T00:00:00+00:00", "end": end}])
    with pytest.raises(Refused, match="admin/l4t-base is booked by carol on board jtk2"):
        siteusers.retire(site, "carol")
    assert os.path.isdir(site.layout.user_dir("carol"))


def test_a_user_still_in_pillar_is_never_retired(site_with_leaver):
    site, _ = site_with_leaver
    with pytest.raises(Refused, match="user alice is in pillar"):
        siteusers.retire(site, "alice")
