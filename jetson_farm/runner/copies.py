"""The switch's clone-first phase: a user booting a shared image gets their working copy first.

docs/architecture.md, "The switch, step by step" (step 0) and "The site server": a switch whose
image is a template (shared in pillar) for a user other than its owner switches the board to
``<user>/<name>`` instead. That copy is made, or found made, by the site before the lease is
taken and before anything touches the board, so the board's switch itself never waits for a
copy. Each board fires ``jetson/switch/<board>/clone`` (``started``, then ``ok`` or ``failed``);
the site fires the copy's progress as ``jetson/image/copy/<user>/<name>``.
"""

import logging
import time

from jetson_farm.errors import JetsonError
from jetson_farm.rootfs.clone import CLONE_TIMEOUT
from jetson_farm.rootfs.templates import copy_for
from jetson_farm.runner.status import ask_sites

log = logging.getLogger(__name__)

COPY_TIMEOUT = CLONE_TIMEOUT  # the site answers once its slowest copy is made


def plan(inventory, switches):
    """Point each switch of a template at its user's working copy; those that need one."""
    wanted = []
    for s in switches:
        copy = copy_for(inventory, s.user, s.image) if s.image and s.kind == "switch" else None
        if copy:
            s.template, s.image = s.image, copy
            wanted.append(s)
    return wanted


def make(engine, site, switches):
    """Have ``site`` (SiteCalls) make or find each switch's working copy; a switch whose copy
    cannot be made is refused alone, with the reason."""
    wanted = plan(engine.inventory, switches)
    if not wanted:
        return
    clock = time.monotonic()
    for s in wanted:
        _fire(engine.bus, s, {"result": "started", "template": s.template, "image": s.image}, 0.0)
    done, failed = site.working_copies(wanted)
    seconds = time.monotonic() - clock
    for s in wanted:
        if s.name in done and s.name not in failed:
            result = done[s.name]
            s.results["clone"] = result
            _fire(engine.bus, s, dict(result, result="ok"), seconds)
            log.info("%s: %s", s.name, result.get("comment"))
        else:
            reason = failed.get(s.name, "no answer")
            _fire(engine.bus, s, {"result": "failed", "reason": reason, "template": s.template,
                                  "image": s.image}, seconds)
            engine.refuse(s, JetsonError(f"no working copy {s.image} of the template {s.template}: "
                                         f"{reason}"), clock)


def _fire(bus, s, data, seconds):
    bus.fire(f"jetson/switch/{s.name}/clone",
             dict(data, board=s.name, step="clone", number=0, user=s.user, seconds=round(seconds, 3)))


# -- telling templates from working copies (salt-run jetson.status, jetson.images) ------------


def catalogs(inventory, ops, only=None):
    """``{site: {image: entry}}`` from every site's (or the sites ``only``'s) ``jetson_image.catalog``;
    a site that does not answer gives none."""
    return {site: {item["image"]: item for item in listed
                   if isinstance(item, dict) and isinstance(item.get("image"), str)}
            for site, listed in ask_sites(inventory, ops, "jetson_image.catalog", only=only).items()
            if isinstance(listed, list)}


def annotate(table, inventory, found):
    """Add to each board row of ``jetson.status`` what its image is: ``image_kind`` (template,
    working copy, copy, image) and ``template`` (what a copy was cloned from)."""
    for name, row in table.items():
        entry = found.get(inventory.boards[name].site, {}).get(row.get("image")) if row.get("image") else None
        row["image_kind"] = entry["kind"] if entry else None
        row["template"] = entry["template"] if entry else None
    return table


# -- ahead of a booked slot (salt-run jetson.working_copies, the calendar bridge) -------------


def ahead(inventory, ops, items, timeout=COPY_TIMEOUT):
    """Make (or find) the working copies ``items`` (``[{"template", "user", "board"}]``) on each
    board's site, one job per site: ``(done, failed)`` keyed by the copy ``user/name``."""
    done, failed, by_site = {}, {}, {}
    for item in items:
        key = _copy_key(item)
        try:
            board = inventory.board(item.get("board"))
            if copy_for(inventory, item["user"], item["template"]) is None:
                raise JetsonError(f"{item['template']} is not a template for {item['user']}")
            inventory.may_boot(item["user"], item["template"])
        except (JetsonError, KeyError, TypeError) as err:
            failed[key] = str(err)
            continue
        by_site.setdefault(board.site, []).append(dict(item))
    for site_name, group in sorted(by_site.items()):
        minion = inventory.site(site_name).minion
        try:
            report = ops.call(minion, "jetson_image.working_copies", group, timeout=timeout)
        except JetsonError as err:
            failed.update({_copy_key(i): str(err) for i in group})
            continue
        done.update((report or {}).get("done") or {})
        failed.update((report or {}).get("failed") or {})
    return done, failed


def _copy_key(item):
    """The copy ``user/name`` an item asks for, as the site keys its answer (even for a bad item)."""
    return f"{item.get('user')}/{str(item.get('template')).rsplit('/', 1)[-1]}"
