"""What the bridge writes into an event: ``X-JETSON-STATUS`` and a status block in DESCRIPTION.

Pure: iCalendar text in, iCalendar text out. The status goes on the occurrence's own
override when it has one, else on the series' master (with the occurrence it is about as a
parameter). The human block is only written on events without attendees (editing
DESCRIPTION there makes some servers mail every attendee), replaces the previous block and
keeps the user's text below it.
"""

import icalendar

from calendar_bridge.booking import STATUS_BLOCK_PREFIX, user_text
from calendar_bridge.occurrences import utc_id
from calendar_bridge.text import one_line

STATUS_PROPERTY = "X-JETSON-STATUS"


class TargetMissing(LookupError):
    """The event (UID) is no longer in the object."""


def status_block(status, reason="", at="", ssh_line=""):
    """``[jetson-farm] ready 01:07 — ssh -J alice@site root@jtk1`` or with the reason."""
    head = f"{STATUS_BLOCK_PREFIX} {status}" + (f" {at}" if at else "")
    detail = ssh_line if status == "ready" and ssh_line else reason
    return one_line(f"{head} — {detail}" if detail else head, 400)


def _param(text):
    # A parameter value may not hold a double quote (RFC 5545 3.1); icalendar quotes the rest.
    return one_line(text, 300).replace('"', "'")


def _target(calendar, uid, recurrence_id, zone):
    master, override = None, None
    for component in calendar.walk("VEVENT"):
        if str(component.get("UID", "")).strip() != uid:
            continue
        if "RECURRENCE-ID" not in component:
            master = component
        elif recurrence_id and utc_id(component.decoded("RECURRENCE-ID"), zone) == recurrence_id:
            override = component
    if override is not None:
        return override, False
    if master is None:
        raise TargetMissing(f"event {uid!r} is not in this object any more")
    return master, bool(recurrence_id)


def apply_status(ics, uid, recurrence_id, zone, status, reason, block):
    """``ics`` with the status of occurrence (``uid``, ``recurrence_id``) set; the new text."""
    calendar = icalendar.Calendar.from_ical(ics)
    component, on_master = _target(calendar, uid, recurrence_id, zone)
    if STATUS_PROPERTY in component:
        del component[STATUS_PROPERTY]
    params = {"REASON": _param(reason)} if reason else {}
    if on_master:
        params["X-OCCURRENCE"] = recurrence_id
    component.add(STATUS_PROPERTY, status, parameters=params)
    if "ATTENDEE" not in component:
        old = component.get("DESCRIPTION")
        text = user_text(str(old)) if old is not None else ""
        if "DESCRIPTION" in component:
            del component["DESCRIPTION"]  # with its ALTREP: the HTML copy would hide the block
        component.add("DESCRIPTION", f"{block}\n\n{text}" if text.strip() else block)
    return calendar.to_ical().decode("utf-8")


def read_status(ics, uid, recurrence_id, zone):
    """``(status, reason)`` that the object carries for the occurrence (for tests and ``list``)."""
    calendar = icalendar.Calendar.from_ical(ics)
    component, _ = _target(calendar, uid, recurrence_id, zone)
    value = component.get(STATUS_PROPERTY)
    if value is None:
        return None, ""
    return str(value), str(value.params.get("REASON", ""))
