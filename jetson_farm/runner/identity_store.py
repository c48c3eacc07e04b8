"""A board's identity, made in place in its identity folder on the site server: its minion key
pair and its SSH host keys (:mod:`jetson_farm.runner.host_keys`).

The private keys are generated where they are kept (``<root>/boards/<board>/identity/``, 0600)
and never leave the site: only the minion's public key is returned, for the master to accept.
A job argument or return would sit in the master's job cache and on its event bus
(docs/architecture.md, "Board keys"). Every folder from ``<root>`` down is opened without
following symlinks (:mod:`jetson_farm.safepath`).
"""

import os
import stat

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jetson_farm.errors import JetsonError
from jetson_farm.names import check_name
from jetson_farm.runner import host_keys
from jetson_farm.safepath import SafeRoot

PRIVATE, PUBLIC = "minion.pem", "minion.pub"
KEY_SIZE = 2048  # Salt's own default ``keysize`` for minion keys
IDENTITY_DIR_MODE = 0o700


class BadKey(JetsonError, ValueError):
    """The key pair found in an identity folder cannot be used."""


def _new_private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _private_pem(key):
    # The format Salt's minion writes and reads (salt.crypt.gen_keys).
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_regular(dir_fd, name, where):
    """The bytes of the regular file ``name`` in ``dir_fd``, or None if absent; never follows a link."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise BadKey(f"{where}/{name} cannot be opened ({err.strerror}): it must be a regular file, "
                     "not a symlink") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BadKey(f"{where}/{name} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def _load_private(data, where):
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise BadKey(f"{where}/{PRIVATE} is not an unencrypted PEM private key ({err}); "
                     "enrol again with renew=True to replace it") from None


def is_complete(identity_dir):
    """True when ``identity_dir`` holds the minion's private key and every SSH host key."""
    return all(os.path.isfile(os.path.join(identity_dir, name))
               for name in (PRIVATE, *host_keys.file_names()))


def ensure_identity(root, board, renew=False):
    """Make sure ``<root>/boards/<board>/identity/`` holds a minion key pair and the SSH host
    keys; the minion's public half.

    An existing ``minion.pem`` is kept (so enrolling twice accepts the same key) unless
    ``renew``; ``minion.pub`` is always rewritten from it. Host keys a folder lacks are made (a
    board enrolled before they existed gets them); ``renew`` replaces them too. Returns
    ``{"board", "pub" (PEM text), "created" (a new minion pair was made), "host_keys_made"
    (the key types made), "path"}``. ``root`` is the admin's setting and may be a symlink;
    below it, UnsafePath for a symlink on the way.
    """
    check_name("board", board)
    relative = f"boards/{board}/identity"
    where = os.path.join(root, relative)
    try:
        os.makedirs(root, mode=0o755, exist_ok=True)
        return _ensure_pair(os.path.realpath(root), relative, board, renew, where)
    except OSError as err:
        raise JetsonError(f"cannot make the key pair of board {board} in {where}: {err}") from None


def _ensure_pair(root, relative, board, renew, where):
    with SafeRoot(root, label=f"site root {root}") as site_root:

        def folder_mode(relpath):
            return IDENTITY_DIR_MODE if relpath == relative else 0o755

        dir_fd = site_root.open_dir(relative.split("/"), create=folder_mode, target=f"{relative}/{PRIVATE}")
        try:
            os.fchmod(dir_fd, IDENTITY_DIR_MODE)
            existing = None if renew else _read_regular(dir_fd, PRIVATE, where)
            missing_host_keys = [kind for kind in host_keys.KINDS
                                 if renew or not _has_files(dir_fd, host_keys.names(kind))]
        finally:
            os.close(dir_fd)
        key = _new_private_key() if existing is None else _load_private(existing, where)
        if existing is None:
            site_root.write_file(f"{relative}/{PRIVATE}", _private_pem(key), 0o600)
        pub = _public_pem(key)
        site_root.write_file(f"{relative}/{PUBLIC}", pub, 0o644)
        for kind in missing_host_keys:
            private, public = host_keys.new_pair(kind, comment=f"root@{board}")
            private_name, public_name = host_keys.names(kind)
            site_root.write_file(f"{relative}/{private_name}", private, 0o600)
            site_root.write_file(f"{relative}/{public_name}", public, 0o644)
    return {"board": board, "pub": pub.decode(), "created": existing is None,
            "host_keys_made": missing_host_keys, "path": where}


def _has_files(dir_fd, names):
    """True when every one of ``names`` is in ``dir_fd`` (a symlink counts: writing refuses it)."""
    for name in names:
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
    return True
