"""Writing a board's minion key pair into its identity folder on the site server."""

import os

from jetson_farm.errors import JetsonError
from jetson_farm.layout import SiteLayout

PEM_BEGIN = "-----BEGIN"


class BadKey(JetsonError, ValueError):
    """What was given is not a PEM key."""


def _write(directory, name, text, mode):
    """Write ``directory/name`` atomically with ``mode``; never through a symlink."""
    temp = os.path.join(directory, f".{name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, os.path.join(directory, name))


def store_identity(root, board, pub, priv):
    """Store ``minion.pub`` (0644) and ``minion.pem`` (0600) in ``<root>/boards/<board>/identity/``."""
    for label, text in (("public", pub), ("private", priv)):
        if not isinstance(text, str) or not text.lstrip().startswith(PEM_BEGIN):
            raise BadKey(f"the {label} key of {board} is not a PEM key")
    identity = SiteLayout(root).identity_dir(board)
    os.makedirs(identity, mode=0o700, exist_ok=True)
    if os.path.islink(identity):
        raise BadKey(f"{identity} is a symlink; refusing to write a key through it")
    os.chmod(identity, 0o700)
    _write(identity, "minion.pub", pub, 0o644)
    _write(identity, "minion.pem", priv, 0o600)
    return {"board": board, "pub": os.path.join(identity, "minion.pub"),
            "pem": os.path.join(identity, "minion.pem")}
