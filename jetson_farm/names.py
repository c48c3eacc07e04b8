"""The one rule for every name that reaches a path or a command (docs/architecture.md, "The inventory")."""

import re

from jetson_farm.errors import InvalidName

NAME_PATTERN = r"[a-z0-9][a-z0-9._-]{0,62}"
NAME_RE = re.compile(NAME_PATTERN)


def check_name(kind, value):
    """Return ``value`` if it is a valid board/user/image name, else raise InvalidName.

    ``kind`` ("board", "user", "image"...) only makes the message read well.
    """
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidName(
            f"invalid {kind} name {value!r}: it must match ^{NAME_PATTERN}$ "
            "(lower-case letters, digits, '.', '_', '-'; no '/', '..', spaces or shell characters)"
        )
    return value


def parse_image(ref):
    """Split ``"user/name"`` into ``(user, name)``, both checked."""
    if not isinstance(ref, str) or ref.count("/") != 1:
        raise InvalidName(f"invalid image {ref!r}: an image is addressed as 'user/name'")
    user, name = ref.split("/")
    return check_name("user", user), check_name("image", name)


def image_ref(user, name):
    """The ``user/name`` form of an image, both parts checked."""
    return f"{check_name('user', user)}/{check_name('image', name)}"
