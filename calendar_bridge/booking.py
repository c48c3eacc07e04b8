"""From an occurrence to a booking (user, board, image), checked against the inventory.

docs/architecture.md, "Bookings": SUMMARY ``<board> <image> [free text]``; or LOCATION ``<board>`` and
SUMMARY ``<image>``; or ``board:``/``image:`` lines in DESCRIPTION (these win). The user is the
calendar's owner, or under ``trust: summary`` the one the event names (``user: alice`` in
DESCRIPTION or a ``alice:`` prefix in SUMMARY). Every name goes through jetson_farm.names and
the inventory before it may go anywhere else.
"""

import re
from dataclasses import dataclass

from calendar_bridge.occurrences import Occurrence
from calendar_bridge.text import has_control_chars, one_line
from jetson_farm.errors import JetsonError
from jetson_farm.names import check_name, image_ref, parse_image

STATUS_BLOCK_PREFIX = "[jetson-farm]"
MAX_FIELD_CHARS = 1000
FIELD_LINE_RE = re.compile(r"^\s*(board|image|user)\s*:\s*(.*?)\s*$", re.IGNORECASE)
USER_PREFIX_RE = re.compile(r"^\s*([^\s:]+)\s*:\s*(.*)$", re.DOTALL)
# A line break in a title would let it pass for extra lines (``image: ...``) where it is quoted.
ONE_LINE_FIELDS = ("SUMMARY", "LOCATION")
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")  # what str.splitlines() splits on


@dataclass(frozen=True)
class Booking:
    """A valid request: ``user`` boots ``image`` (``owner/name``) on ``board`` for the occurrence."""

    occurrence: Occurrence
    user: str
    board: str
    image: str

    @property
    def key(self):
        return self.occurrence.key


@dataclass(frozen=True)
class Refusal:
    """An occurrence that is not a valid booking; ``reason`` is told to the user."""

    occurrence: Occurrence
    reason: str
    user: str = ""

    @property
    def key(self):
        return self.occurrence.key


class _Refuse(Exception):
    pass


def user_text(description):
    """DESCRIPTION without the bridge's own status block at its top."""
    lines = description.split("\n")
    if lines and lines[0].startswith(STATUS_BLOCK_PREFIX):
        lines = lines[1:]
        if lines and not lines[0].strip():
            lines = lines[1:]
    return "\n".join(lines)


def _check_field(name, value):
    if len(value) > MAX_FIELD_CHARS:
        raise _Refuse(f"{name} is {len(value)} characters long, more than the {MAX_FIELD_CHARS} allowed")
    if name in ONE_LINE_FIELDS and any(char in LINE_BREAKS for char in value):
        raise _Refuse(f"{name} contains a line break; write it on one line")
    if has_control_chars(value):
        raise _Refuse(f"{name} contains control characters")


def _description_fields(description):
    fields = {}
    for line in description.split("\n"):
        match = FIELD_LINE_RE.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), match.group(2))
    return fields


def _name(kind, value):
    try:
        return check_name(kind, value)
    except JetsonError as err:
        raise _Refuse(str(err)) from None


def _resolve_image(inventory, user, token):
    """``owner/name`` for what the event says: a full reference, or a name of the user's own or
    (when the user has none listed under that name) the one shared image of that name."""
    if "/" in token:
        try:
            ref = image_ref(*parse_image(token))
        except JetsonError as err:
            raise _Refuse(str(err)) from None
    else:
        name = _name("image", token)
        ref = image_ref(user, name)
        if ref not in inventory.images:
            shared = [other for other in sorted(inventory.images)
                      if other.split("/")[1] == name and other.split("/")[0] != user
                      and _may_boot(inventory, user, other)]
            if len(shared) == 1:
                ref = shared[0]
    try:
        inventory.may_boot(user, ref)
    except JetsonError as err:
        raise _Refuse(str(err)) from None
    return ref


def _may_boot(inventory, user, ref):
    try:
        inventory.may_boot(user, ref)
    except JetsonError:
        return False
    return True


def _request(occurrence, trust):
    """(user or None, board token, image token) as the event writes them."""
    summary, location = occurrence.summary, occurrence.location
    description = user_text(occurrence.description)
    for name, value in (("SUMMARY", summary), ("LOCATION", location), ("DESCRIPTION", description)):
        _check_field(name, value)
    fields = _description_fields(description)
    user = fields.get("user")
    if trust == "summary" and user is None:
        match = USER_PREFIX_RE.match(summary)
        if match:
            user, summary = match.group(1), match.group(2)
    words = summary.split()
    if "board" in fields or "image" in fields:
        board, image = fields.get("board", ""), fields.get("image", "")
        board = board or (location.split()[0] if location.split() else (words[0] if words else ""))
    elif location.strip():
        board, image = location.split()[0], (words[0] if words else "")
    else:
        board, image = ([*words, "", ""])[:2]
    if not board:
        raise _Refuse("no board named: write '<board> <image>' in the title, "
                      "or the board in the location")
    if not image:
        raise _Refuse(f"no image named for board {board!r}: write '<board> <image>' in the title")
    return user, board, image


def parse_booking(occurrence, spec, inventory):
    """A :class:`Booking`, or a :class:`Refusal` naming what is wrong with the event."""
    try:
        user_named, board, image = _request(occurrence, spec.trust)
        if spec.trust == "owner":
            user = spec.owner
            if user_named is not None and user_named != user:
                raise _Refuse(f"this calendar is {user}'s; a booking in it cannot be for "
                              f"{one_line(user_named, 80)!r}")
        else:
            if not user_named:
                raise _Refuse("this shared calendar needs the user: write 'user: <name>' in the "
                              "description or '<user>: <board> <image>' as the title")
            user = user_named
        _name("user", user)
        try:
            inventory.user(user)
            inventory.board(_name("board", board))
        except JetsonError as err:
            raise _Refuse(str(err)) from None
        ref = _resolve_image(inventory, user, image)
        if occurrence.end <= occurrence.start:
            raise _Refuse("the booking has no length: give it an end time or a duration")
        return Booking(occurrence=occurrence, user=user, board=board, image=ref)
    except _Refuse as err:
        return Refusal(occurrence=occurrence, reason=one_line(str(err), 300),
                       user=spec.owner or "")
