"""RSA keys made once a session: a test's n-th RSA key of a size is the session's n-th of that size.

Making an RSA key costs up to a second of CPU, and the farm makes several per board (its minion
key, its SSH host key). Each key is still made by the real generator, the first time it is asked
for; within a test every key differs from the others, as they would on a site.
"""

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

_SESSION_KEYS = {}  # (public_exponent, key_size) -> keys made so far, in the order tests asked


@pytest.fixture(autouse=True)
def rsa_keys_once_a_session(monkeypatch):
    """Within this test, RSA keys come from the session's pool, in order (autouse where imported)."""
    generate = rsa.generate_private_key
    taken = {}

    def pooled(public_exponent, key_size, backend=None):
        shape = (public_exponent, key_size)
        pool = _SESSION_KEYS.setdefault(shape, [])
        index = taken.get(shape, 0)
        taken[shape] = index + 1
        if index == len(pool):
            pool.append(generate(public_exponent=public_exponent, key_size=key_size))
        return pool[index]

    monkeypatch.setattr(rsa, "generate_private_key", pooled)
