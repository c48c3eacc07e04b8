"""A board's key pair made in place on the site: 0600, kept across enrolments, never via a symlink."""

import os
import stat
import subprocess

import pytest
import salt.crypt

from jetson_farm.errors import InvalidName, JetsonError, UnsafePath
from jetson_farm.runner.identity_store import BadKey, ensure_identity


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


def test_a_new_pair_is_made_in_place_and_only_the_public_half_returned(root):
    made = ensure_identity(str(root), "jtk1")
    identity = root / "boards" / "jtk1" / "identity"
    pem, pub = identity / "minion.pem", identity / "minion.pub"
    assert made["created"] is True
    assert made["path"] == str(identity)
    assert made["pub"] == pub.read_text()
    assert "PRIVATE" not in repr(made)
    assert (mode(pem), mode(pub), mode(identity)) == (0o600, 0o644, 0o700)
    # Salt's own key classes read the pair, and the halves belong together.
    private = salt.crypt.PrivateKey(pem.read_bytes())
    public = salt.crypt.PublicKey.from_str(made["pub"])
    assert public.decrypt(private.encrypt(b"hello")) == b"hello"


def test_enrolling_again_keeps_the_pair_and_renew_replaces_it(root):
    first = ensure_identity(str(root), "jtk1")
    pem = root / "boards" / "jtk1" / "identity" / "minion.pem"
    kept_pem = pem.read_bytes()
    (pem.parent / "minion.pub").unlink()  # a lost public half is made again from the private one
    again = ensure_identity(str(root), "jtk1")
    assert (again["created"], again["pub"], pem.read_bytes()) == (False, first["pub"], kept_pem)
    renewed = ensure_identity(str(root), "jtk1", renew=True)
    assert renewed["created"] is True
    assert renewed["pub"] != first["pub"]
    assert pem.read_bytes() != kept_pem
    assert mode(pem) == 0o600


@pytest.mark.parametrize("linked", ["boards", "boards/jtk1", "boards/jtk1/identity"])
def test_a_symlinked_folder_on_the_way_is_refused_and_nothing_written_through_it(root, tmp_path, linked):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / linked).parent.mkdir(parents=True, exist_ok=True)
    (root / linked).symlink_to(elsewhere)
    with pytest.raises(UnsafePath, match=f"{linked} is a symlink"):
        ensure_identity(str(root), "jtk1")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("renew", [False, True])
def test_a_symlink_at_the_key_name_is_refused(root, tmp_path, renew):
    identity = root / "boards" / "jtk1" / "identity"
    identity.mkdir(parents=True)
    target = tmp_path / "shadow"
    target.write_text("root:secret\n")
    (identity / "minion.pem").symlink_to(target)
    with pytest.raises((BadKey, UnsafePath), match=r"minion\.pem"):
        ensure_identity(str(root), "jtk1", renew=renew)
    assert target.read_text() == "root:secret\n"


def test_a_private_key_that_is_not_pem_is_named(root):
    identity = root / "boards" / "jtk1" / "identity"
    identity.mkdir(parents=True)
    (identity / "minion.pem").write_text("not a key\n")
    with pytest.raises(BadKey, match=r"minion.pem is not an unencrypted PEM private key.*renew=True"):
        ensure_identity(str(root), "jtk1")


def test_a_board_name_that_could_leave_the_root_is_refused(root):
    with pytest.raises(InvalidName):
        ensure_identity(str(root), "../jtk1")
    assert list(root.iterdir()) == []


def test_a_missing_root_is_made_and_a_symlinked_root_followed(tmp_path):
    real = tmp_path / "disk" / "jetson"
    ensure_identity(str(real), "jtk1")
    (tmp_path / "srv").symlink_to(real.parent)
    again = ensure_identity(str(tmp_path / "srv" / "jetson"), "jtk1")
    assert again["created"] is False
    assert again["path"] == str(tmp_path / "srv" / "jetson" / "boards" / "jtk1" / "identity")


def test_a_root_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(JetsonError, match=r"cannot make the key pair of board jtk1 in .*/file/root"):
        ensure_identity(str(tmp_path / "file" / "root"), "jtk1")


def _host_keys(identity):
    return {path.name: path.read_bytes() for path in sorted(identity.glob("ssh_host_*"))}


def test_the_boards_ssh_host_keys_are_made_as_sshd_reads_them(root):
    made = ensure_identity(str(root), "jtk1")
    identity = root / "boards" / "jtk1" / "identity"
    assert made["host_keys_made"] == ["ed25519", "ecdsa", "rsa"]
    for kind, bits in (("ed25519", "256"), ("ecdsa", "256"), ("rsa", "3072")):
        private, public = identity / f"ssh_host_{kind}_key", identity / f"ssh_host_{kind}_key.pub"
        assert (mode(private), mode(public)) == (0o600, 0o644)
        # OpenSSH's own tool reads the private key, and derives the very public key kept beside it.
        derived = subprocess.run(["ssh-keygen", "-y", "-f", str(private)], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.split()
        assert public.read_text().split() == [*derived[:2], "root@jtk1"]
        listed = subprocess.run(["ssh-keygen", "-l", "-f", str(public)], capture_output=True, text=True,
                                timeout=30, check=True).stdout.split()
        assert (listed[0], listed[-1]) == (bits, f"({kind.upper()})")


def test_a_board_enrolled_before_host_keys_gets_them_and_keeps_its_minion_pair(root):
    first = ensure_identity(str(root), "jtk1")
    identity = root / "boards" / "jtk1" / "identity"
    for path in identity.glob("ssh_host_*"):
        path.unlink()
    (identity / "ssh_host_ed25519_key").write_bytes(b"the admin's own key\n")  # kept: it is there
    (identity / "ssh_host_ed25519_key.pub").write_bytes(b"ssh-ed25519 AAAA admin\n")
    again = ensure_identity(str(root), "jtk1")
    assert (again["created"], again["pub"]) == (False, first["pub"])
    assert again["host_keys_made"] == ["ecdsa", "rsa"]
    kept = _host_keys(identity)
    assert kept["ssh_host_ed25519_key"] == b"the admin's own key\n"
    assert ensure_identity(str(root), "jtk1")["host_keys_made"] == []
    assert _host_keys(identity) == kept
    renewed = ensure_identity(str(root), "jtk1", renew=True)
    assert renewed["host_keys_made"] == ["ed25519", "ecdsa", "rsa"]
    assert not set(_host_keys(identity).items()) & set(kept.items())


def test_a_symlink_at_a_host_key_name_is_never_written_through(root, tmp_path):
    ensure_identity(str(root), "jtk1")
    identity = root / "boards" / "jtk1" / "identity"
    target = tmp_path / "shadow"
    target.write_text("root:secret\n")
    (identity / "ssh_host_rsa_key").unlink()
    (identity / "ssh_host_rsa_key").symlink_to(target)
    with pytest.raises(UnsafePath, match=r"ssh_host_rsa_key is a symlink"):
        ensure_identity(str(root), "jtk1", renew=True)
    assert target.read_text() == "root:secret\n"
