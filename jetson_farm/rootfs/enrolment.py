"""The site's own record of the enrolment it asked the master for (rule 6).

``state.apply jetson.site`` writes ``<root>/state/enrol/pending.json`` naming its boards, then
fires ``jetson/site/enroll``. The event is only a prompt: anyone's minion can fire that tag with
any ``id`` in it. The master's ``jetson.enroll_site`` asks the site minion that pillar names
for this record (``jetson_switch.take_enrolment``, a job whose answer the master's job cache
confirms) and enrolls only the boards it lists; taking the record consumes it.
"""

import os
import uuid

from jetson_farm.errors import JetsonError
from jetson_farm.names import check_name
from jetson_farm.rootfs import fsutil


def pending_path(layout):
    # A folder, so the name never clashes with a board's journal (<root>/state/<board>.json).
    return os.path.join(layout.state_dir, "enrol", "pending.json")


def ask(layout, boards):
    """Record that this site asks the master to enroll ``boards`` (replacing an older request)."""
    path = pending_path(layout)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    names = sorted(check_name("board", b) for b in boards)
    fsutil.write_json(path, {"boards": names, "asked_at": fsutil.now()})


def take(layout):
    """The boards of the pending request, which is removed (``[]`` when there is none)."""
    path = pending_path(layout)
    taken = f"{path}.{uuid.uuid4().hex[:8]}.taken"
    try:
        os.rename(path, taken)  # two takers at once: one gets the record, the other nothing
    except FileNotFoundError:
        return []
    try:
        record = fsutil.read_json(taken, default={})
    finally:
        os.unlink(taken)
    boards = record.get("boards") if isinstance(record, dict) else None
    if not isinstance(boards, list) or not all(isinstance(b, str) for b in boards):
        raise JetsonError(f"{path} held no list of boards: the request was dropped; "
                          "apply the site state again")
    return boards
