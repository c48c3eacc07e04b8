"""The bookings pushed to the site servers (``salt-run jetson.set_bookings``, the bridge's sync).

docs/architecture.md, "The site server": a site refuses to remove an image, retire a user or
retire a board that a booking not yet ended names. The sites learn the bookings from here: the
whole list is grouped by the boards' sites and each site gets its own (an empty list too, so a
deleted booking stops counting), through its ``jetson_rootfs.set_bookings``.
"""

import logging

from jetson_farm.errors import JetsonError
from jetson_farm.rootfs.store import check_bookings

log = logging.getLogger(__name__)

PUSH_TIMEOUT = 30  # seconds per site; a site that does not answer is reported, not waited for


def by_site(inventory, bookings):
    """``{site: [booking]}`` for every site of the inventory; JetsonError naming every bad item
    (a broken booking, an unknown board), and then nothing is pushed anywhere."""
    clean = check_bookings(bookings)
    grouped = {name: [] for name in inventory.sites}
    problems = []
    for i, booking in enumerate(clean):
        try:
            grouped[inventory.board(booking["board"]).site].append(booking)
        except JetsonError as err:
            problems.append(f"bookings[{i}]: {err}")
    if problems:
        raise JetsonError("invalid bookings, none pushed: " + "; ".join(problems))
    return grouped


def push(inventory, ops, bookings, timeout=PUSH_TIMEOUT):
    """Give each site its bookings: ``(done, failed)``, ``done`` ``{site: {"bookings", "changed"}}``,
    ``failed`` ``{site: reason}`` (a site that is down or refuses fails alone)."""
    done, failed = {}, {}
    for site_name, items in sorted(by_site(inventory, bookings).items()):
        minion = inventory.site(site_name).minion
        try:
            done[site_name] = ops.call(minion, "jetson_rootfs.set_bookings", items, timeout=timeout)
        except JetsonError as err:
            failed[site_name] = str(err)
            log.error("site %s: the bookings were not pushed: %s", site_name, err)
    return done, failed
