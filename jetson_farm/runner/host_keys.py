"""A board's SSH host keys, as ``ssh-keygen -A`` would make them (sshd's default key types), in
the OpenSSH formats sshd reads; kept in the board's identity folder, injected at each swap."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

RSA_BITS = 3072  # ssh-keygen's default
KINDS = ("ed25519", "ecdsa", "rsa")
_GENERATORS = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),  # ssh-keygen's default curve
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS),
}


def names(kind):
    """``(private, public)`` file names of the ``kind`` host key, as sshd looks for them."""
    return f"ssh_host_{kind}_key", f"ssh_host_{kind}_key.pub"


def file_names():
    """Every host key file a complete identity folder holds."""
    return [name for kind in KINDS for name in names(kind)]


def new_pair(kind, comment):
    """``(private, public)`` bytes of a new ``kind`` host key; ``comment`` ends the public line."""
    key = _GENERATORS[kind]()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public + f" {comment}\n".encode()
