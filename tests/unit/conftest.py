"""Fixtures every unit test gets."""

from tests.key_pool import rsa_keys_once_a_session  # noqa: F401 (autouse fixture)
