"""Reading the store (list, info, usage, state), removing images, and the pushed bookings.

Where an image is comes from the store's slots and ``<root>/state/`` only, never from a marker
inside a rootfs (rule 2).
"""

import datetime
import logging
import os
import shutil
import uuid

from jetson_farm.errors import InvalidName, JetsonError, NotFound, Refused
from jetson_farm.names import NAME_RE, check_name, parse_image
from jetson_farm.rootfs import clone, fsutil

log = logging.getLogger(__name__)

GIB = 1024**3
BOOKING_KEYS = ("image", "board", "user", "start", "end")


def _slots(site, user=None):
    """``[(user, name, path)]`` of the images parked in the store."""
    images_dir = site.layout.images_dir
    users = [user] if user else sorted(os.listdir(images_dir)) if os.path.isdir(images_dir) else []
    found = []
    for owner in users:
        owner_dir = os.path.join(images_dir, owner)
        if not NAME_RE.match(owner) or not fsutil.is_real_dir(owner_dir):
            continue
        for name in sorted(os.listdir(owner_dir)):
            path = os.path.join(owner_dir, name)
            if NAME_RE.match(name) and fsutil.is_real_dir(path):
                found.append((owner, name, path))
    return found


def list_images(site, user=None):
    """Every image, parked or at an nfsroot: ``[{image, user, name, where, board, path}]``."""
    if user is not None:
        check_name("user", user)
    images = [{"image": f"{owner}/{name}", "user": owner, "name": name, "where": "store",
               "board": None, "path": path} for owner, name, path in _slots(site, user)]
    for image, board in site.placements().items():
        owner, name = parse_image(image)
        if user in (None, owner):
            images.append({"image": image, "user": owner, "name": name, "where": "board",
                           "board": board, "path": site.board(board).nfsroot})
    return sorted(images, key=lambda item: item["image"])


def locate(site, image):
    """``(path, board or None)`` of ``image``; NotFound if it is nowhere."""
    parse_image(image)
    board = site.placements().get(image)
    if board:
        return site.board(board).nfsroot, board
    slot = site.layout.image_path(image)
    if fsutil.is_real_dir(slot):
        return slot, None
    raise NotFound(f"image {image} does not exist: not in the store ({slot}) nor at any nfsroot")


def info(site, image):
    """``{image, owner, name, where, board, path, size_bytes}`` of one image."""
    path, board = locate(site, image)
    owner, name = parse_image(image)
    return {"image": image, "owner": owner, "name": name, "where": "board" if board else "store",
            "board": board, "path": path, "size_bytes": fsutil.tree_bytes(path)}


def usage(site, user=None):
    """``{user: {bytes, images, quota_gb, quota_bytes, over_quota}}`` (quota_gb 0: no quota)."""
    totals = {}
    for item in list_images(site, user):
        entry = totals.setdefault(item["user"], {"bytes": 0, "images": 0})
        entry["bytes"] += fsutil.tree_bytes(item["path"])
        entry["images"] += 1
    names = [user] if user else sorted(set(site.inventory.users) | set(totals))
    result = {}
    for name in names:
        entry = totals.get(name, {"bytes": 0, "images": 0})
        account = site.inventory.users.get(name)
        quota_gb = account.quota_gb if account else 0
        quota_bytes = int(quota_gb * GIB)
        result[name] = {**entry, "quota_gb": quota_gb, "quota_bytes": quota_bytes,
                        "over_quota": bool(quota_bytes) and entry["bytes"] > quota_bytes}
    return result


def state(site, board=None):
    """The journal of ``board`` (or ``{board: journal}`` for every board of the site), with
    ``interrupted`` (an operation no process is running) and ``busy`` (one is running now)."""
    boards = [site.board(board)] if board else site.boards()
    result = {}
    for item in boards:
        data = site.load_state(item.name)
        busy = fsutil.is_locked(site.lock_path(item.name))
        data.update(nfsroot=item.nfsroot, busy=busy,
                    interrupted=bool(data["operation"]) and not busy)
        result[item.name] = data
    return result[board] if board else result


# -- bookings ------------------------------------------------------------------------------

def _parse_time(value, where):
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise JetsonError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def check_bookings(bookings):
    """The bookings as clean dicts; JetsonError naming every broken item."""
    if not isinstance(bookings, list):
        raise JetsonError("bookings must be a list of {image, board, user, start, end}")
    clean, problems = [], []
    for i, item in enumerate(bookings):
        where = f"bookings[{i}]"
        try:
            if not isinstance(item, dict) or set(BOOKING_KEYS) - set(item):
                raise JetsonError(f"{where} must have the keys {', '.join(BOOKING_KEYS)}")
            parse_image(item["image"])
            check_name("board", item["board"])
            check_name("user", item["user"])
            start = _parse_time(item["start"], f"{where}.start")
            end = _parse_time(item["end"], f"{where}.end")
            if end <= start:
                raise JetsonError(f"{where}: it ends ({item['end']}) before it starts ({item['start']})")
            clean.append({key: str(item[key]) for key in BOOKING_KEYS})
        except (JetsonError, InvalidName) as err:
            problems.append(str(err) if str(err).startswith(where) else f"{where}: {err}")
    if problems:
        raise JetsonError("invalid bookings, none saved: " + "; ".join(problems))
    return clean


def set_bookings(site, bookings):
    """Save the bookings the master pushes; ``{"bookings": count, "changed": bool}``."""
    clean = check_bookings(bookings)
    path = os.path.join(site.layout.state_dir, "bookings.json")
    changed = fsutil.read_json(path) != clean
    if changed:
        site.layout.ensure()
        fsutil.write_json(path, clean)
    return {"bookings": len(clean), "changed": changed}


def current_bookings(site, now=None):
    """The saved bookings that have not ended yet."""
    now = now or datetime.datetime.now(datetime.UTC)
    saved = fsutil.read_json(os.path.join(site.layout.state_dir, "bookings.json"), default=[])
    return [b for b in saved if _parse_time(b["end"], "bookings.json") > now]


def remove(site, image):
    """Delete a parked image; Refused while it is at an nfsroot, in a switch or booked."""
    parse_image(image)
    with site.store_lock(), site.image_lock(image):
        return _remove(site, image)


def check_removable(site, image):
    """The path of ``image`` if it may be removed now; Refused while it is at an nfsroot, part of
    an interrupted switch or booked (what ``remove`` checks, and a dry run reports)."""
    path, board = locate(site, image)
    if board:
        raise Refused(f"image {image} is at the nfsroot of board {board}: park it first")
    for name in site.boards():
        op = site.load_state(name.name).get("operation") or {}
        if image in (op.get("current"), op.get("target")):
            raise Refused(f"image {image} is part of an interrupted switch of board {name.name}: "
                          "run reconcile first")
    for booking in current_bookings(site):
        if booking["image"] == image:
            raise Refused(f"image {image} is booked by {booking['user']} on board {booking['board']} "
                          f"from {booking['start']} to {booking['end']}")
    return path


def _remove(site, image):
    path = check_removable(site, image)
    trash = os.path.join(site.layout.images_dir, f"{fsutil.TRASH_PREFIX}{uuid.uuid4().hex[:12]}")
    # One rename makes the image disappear at once; a crash during the removal leaves only a
    # trash folder, which reconcile sweeps.
    fsutil.rename(path, trash)
    clone.forget(site, image)
    with fsutil.locked_dir(trash):  # so reconcile's sweep leaves it to us
        shutil.rmtree(trash, ignore_errors=True)
    log.info("removed image %s", image)
    return {"image": image, "removed": True, "comment": f"image {image} removed from the store"}
