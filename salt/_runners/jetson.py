"""Runner ``jetson``: the master's view of the farm (switch, release, status, history, leases...).

A thin door over :mod:`jetson_farm.runner`. History, leases and quarantine live in SQLite on
the master (master opt ``jetson_db``, default ``<cachedir>/jetson/farm.db``). The inventory is
the ``jetson`` pillar as the master compiles it for ``jetson_pillar_minion`` (default: the
master's own id, else the first accepted minion that has it). Every function that fails sets
``__context__["retcode"] = 1`` (what the orchestration looks at) and returns a dict with
``"retcode": 1`` (what ``salt-run`` looks at), so both see the failure.
"""

import logging
import os

from jetson_farm import versions as versions_core
from jetson_farm.errors import JetsonError
from jetson_farm.inventory import Inventory
from jetson_farm.runner import admin, history, leases, plan
from jetson_farm.runner import bookings as bookings_core
from jetson_farm.runner import copies as copies_core
from jetson_farm.runner import exports as exports_core
from jetson_farm.runner import quarantine as quarantine_core
from jetson_farm.runner import status as status_core
from jetson_farm.runner.db import FarmDB, default_path, parse_time
from jetson_farm.runner.farmbus import FarmBus
from jetson_farm.runner.flash import flash_command as build_flash_command
from jetson_farm.runner.saltops import SaltOps
from jetson_farm.switch import Engine

log = logging.getLogger(__name__)

__virtualname__ = "jetson"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


# -- plumbing ----------------------------------------------------------------------------------


def _db():
    return FarmDB(__opts__.get("jetson_db") or default_path(__opts__["cachedir"]))


def _failed(message, **data):
    __context__["retcode"] = 1
    log.error("%s", message)
    return dict(data, result=False, error=message, retcode=1)


def _raw_pillar():
    """The ``jetson`` pillar as the master compiles it, and the minion id it was compiled for."""
    memo = os.path.join(os.path.dirname(_db().path), "pillar_minion")
    return SaltOps(__opts__).jetson_pillar(__salt__["pillar.show_pillar"], memo)


def _inventory():
    raw, _ = _raw_pillar()
    return Inventory.load(raw)


def _missing(**values):
    """A failed return naming the first required argument not given, else None.

    (A SaltInvocationError raised in a runner is a TypeError to the runner client, which then
    prints the usage and exits 0; a returned failure exits 1.)
    """
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            return _failed(f"{name}= is required")
    return None


def _orchestrate(sls, pillar):
    ret = __salt__["state.orchestrate"](sls, pillar=pillar)
    if not isinstance(ret, dict) or ret.get("retcode", 0) != 0:
        __context__["retcode"] = 1
        if isinstance(ret, dict):
            ret["retcode"] = 1
    return ret


# -- switching ---------------------------------------------------------------------------------


def switch(board=None, image=None, user=None):
    """
    Switch a board to an image now: runs the orchestration ``jetson.switch``.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.switch board=jtk1 image=alice/cuda-dev
        salt-run jetson.switch board=jtk1 image=admin/l4t-base user=alice

    board
        The board, as in pillar ``jetson:boards``.
    image
        The image, ``user/name``.
    user
        Who the board is for (their SSH keys are injected); default the image's owner.
    """
    missing = _missing(board=board, image=image)
    if missing:
        return missing
    pillar = {"board": board, "image": image}
    if user:
        pillar["user"] = user
    return _orchestrate("jetson.switch", pillar)


def release(board=None):
    """
    Give a board back: its default image, or powered off and empty where it has none.

    Runs the orchestration ``jetson.release``.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.release board=jtk1

    board
        The board, as in pillar ``jetson:boards``.
    """
    missing = _missing(board=board)
    if missing:
        return missing
    return _orchestrate("jetson.release", {"board": board})


def run(kind=None, board=None, image=None, user=None, boards=None, stagger=0):
    """
    Switch or release boards now, every board side by side in this one process (the
    orchestrations ``jetson.switch`` and ``jetson.release`` call this; see jetson_farm/switch.py).

    Steps 0-8 run for every board; each fires ``jetson/switch/<board>/<step>`` and a failure
    fires ``jetson/board/<board>/failed``. One board's failure does not stop the others.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.run kind=switch board=jtk1 image=alice/cuda-dev
        salt-run jetson.run kind=switch boards='{"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}'
        salt-run jetson.run kind=release boards='["jtk1", "jtk2"]'

    kind
        ``switch`` or ``release``.
    board
        One board (with ``image`` and optionally ``user`` for a switch).
    image
        The image ``user/name`` of a one-board switch.
    user
        Who the board is for; default the image's owner.
    boards
        Several boards: for a switch a mapping of board to image (or to ``{"image", "user"}``),
        for a release a list of boards.
    stagger
        Seconds between two boards' power-on at step 6 (default 0).

    Returns ``{"result", "boards": {board: {"result", "comment", "error", "switch_id", "image",
    "user", "steps"}}}``, with ``retcode`` 1 when a board failed.
    """
    if kind not in ("switch", "release"):
        return _failed(f"kind= must be switch or release, not {kind!r}")
    if isinstance(stagger, bool) or not isinstance(stagger, int | float) or stagger < 0:
        return _failed(f"stagger= must be a number of seconds >= 0, not {stagger!r}")
    asked = {k: v for k, v in (("board", board), ("image", image), ("user", user), ("boards", boards))
             if v is not None}
    try:
        requests = plan.switch_requests(asked) if kind == "switch" else plan.release_requests(asked)
    except JetsonError as err:
        return _failed(f"bad jetson.{kind} request, nothing was changed: {err}")
    try:
        bus = FarmBus(__opts__)
    except JetsonError as err:
        return _failed(str(err))
    try:
        engine = Engine(_db(), bus, lambda: _raw_pillar()[0], leases.holder_token(),
                        jid=str(globals().get("__jid__", "")), stagger=stagger)
        report = engine.run(kind, requests)
    finally:
        bus.close()
    if all(item["result"] for item in report.values()):
        return {"result": True, "boards": report}
    __context__["retcode"] = 1
    return {"result": False, "boards": report, "retcode": 1}



def working_copies(copies=None, timeout=copies_core.COPY_TIMEOUT):
    """
    Make the working copies of shared images (templates) that booked users will boot, ahead of
    their slot, so that the switch itself never waits for a copy (the calendar bridge calls
    this at every sync). A copy that exists is used as is; a new one is a reflink clone where
    the file system can, else a full copy, within the user's quota. Progress: events
    ``jetson/image/copy/<user>/<name>`` from the site.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.working_copies \
            copies='[{"template": "admin/l4t-base", "user": "alice", "board": "jtk3"}]'

    copies
        A list of ``{"template", "user", "board"}``: the shared image, who boots it, and on which
        board (its site makes the copy).
    timeout
        Seconds to wait for each site (a full copy of a large image takes minutes).

    Returns ``{"result", "done": {"<user>/<name>": {"image", "template", "made", "method",
    "bytes", "seconds", "comment"}}, "failed": {"<user>/<name>": reason}}``, with ``retcode`` 1
    when a copy failed.
    """
    if not isinstance(copies, list) or not copies or not all(isinstance(item, dict) for item in copies):
        return _failed("copies= must be a non-empty list of {template, user, board}")
    try:
        done, failed = copies_core.ahead(_inventory(), SaltOps(__opts__), copies, timeout=int(timeout))
    except (JetsonError, ValueError) as err:
        return _failed(str(err))
    if failed:
        __context__["retcode"] = 1
        return {"result": False, "done": done, "failed": failed, "retcode": 1}
    return {"result": True, "done": done, "failed": {}}



def set_bookings(bookings=None, timeout=bookings_core.PUSH_TIMEOUT):
    """
    Push the bookings that have not ended to the site servers (the calendar bridge calls this at
    every sync). Each site gets the bookings of its own boards (an empty list too) through its
    ``jetson_rootfs.set_bookings``, which replaces what it had; a site then refuses to remove a
    booked image, or to retire a booked board or user. A site that does not answer is reported
    and the others still get theirs.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.set_bookings bookings='[{"image": "alice/cuda-dev", "board": "jtk1", \
            "user": "alice", "start": "2026-12-01T09:00+01:00", "end": "2026-12-01T18:00+01:00"}]'
        salt-run jetson.set_bookings bookings='[]'

    bookings
        A list of ``{"image", "board", "user", "start", "end"}`` (ISO 8601 times), every booking
        of the farm: a site's saved list is replaced as a whole.
    timeout
        Seconds to wait for each site.

    Returns ``{"result", "sites": {site: {"bookings", "changed"}}, "failed": {site: reason}}``,
    with ``retcode`` 1 when a site failed; a bad booking pushes nothing anywhere.
    """
    try:
        done, failed = bookings_core.push(_inventory(), SaltOps(__opts__), bookings, timeout=int(timeout))
    except (JetsonError, ValueError) as err:
        return _failed(str(err))
    if failed:
        __context__["retcode"] = 1
        return {"result": False, "sites": done, "failed": failed, "retcode": 1}
    return {"result": True, "sites": done, "failed": {}}

# -- reading -----------------------------------------------------------------------------------


def status():
    """
    One row per board: image, owner, user, state (up, down, switching, quarantined, failed),
    since, the current session, and what the image is (``image_kind``: template, working copy,
    copy or image; ``template``: the template a working copy was cloned from).

    CLI Example:

    .. code-block:: bash

        salt-run jetson.status
    """
    try:
        inventory = _inventory()
        ops = SaltOps(__opts__)
        states = status_core.site_states(inventory, ops)
        present = ops.answering({b.minion for b in inventory.boards.values()})
        with _db().connect() as conn:
            table = status_core.assemble(conn, inventory, states, present)
        # Only the sites that answered: a silent one has cost its timeout once already.
        answered = {inventory.boards[board].site for board in states if board in inventory.boards}
        return copies_core.annotate(table, inventory, copies_core.catalogs(inventory, ops, only=answered))
    except JetsonError as err:
        return _failed(str(err))


def images(site=None):
    """
    Every image of every site (or of ``site``) and what it is: ``template`` (shared in pillar),
    ``working copy`` (a user's own copy of a template, with the template it came from),
    ``copy`` (cloned from another image) or ``image``; where it is (store, or which board).

    CLI Example:

    .. code-block:: bash

        salt-run jetson.images
        salt-run jetson.images site=site01

    site
        Only this site, as in pillar ``jetson:sites``.

    Returns ``{site: {image: {"where", "board", "kind", "template", "method", "made"}}}``.
    """
    try:
        inventory = _inventory()
        if site is not None:
            inventory.site(site)
        found = copies_core.catalogs(inventory, SaltOps(__opts__))
    except JetsonError as err:
        return _failed(str(err))
    missing = sorted(name for name in ([site] if site else inventory.sites) if name not in found)
    if missing:
        return _failed(f"no image list from site(s) {', '.join(missing)} (is the site minion up?)")
    return {name: {image: {key: value for key, value in entry.items() if key != "image"}
                   for image, entry in sorted(entries.items())}
            for name, entries in sorted(found.items()) if site in (None, name)}


def sessions(board=None, user=None, since=None):
    """
    The history: one row per switch or release (board, user, image, started, ended, outcome, jid).

    CLI Example:

    .. code-block:: bash

        salt-run jetson.sessions board=jtk1 user=alice since=2026-11-01

    board
        Only this board.
    user
        Only this user.
    since
        Only sessions started at or after this ISO date or date-time (UTC unless it says).
    """
    try:
        start = parse_time(since)
    except ValueError as err:
        return _failed(str(err))
    with _db().connect() as conn:
        return history.query(conn, board=board, user=user, since=start)


def lease():
    """
    The boards' leases (who is switching them, since when, until when); expired ones are free.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.lease
    """
    with _db().connect() as conn:
        return {row["board"]: leases.describe(row) for row in leases.all_leases(conn)}


def check():
    """
    Check the whole ``jetson`` pillar; every broken rule is named, retcode 1 if any. Then ask
    every site for the versions of its modules and for every export of its NFS server:
    ``exports`` lists, per site, the exports the pillar does not know; one the farm left behind,
    one around or inside a board's nfsroot or the site root, and a board's export that reaches
    more than the board's ip are problems.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.check
    """
    raw, minion = _raw_pillar()
    if minion is None:
        return _failed("no minion has a jetson pillar: give it to the master's id or set "
                       "jetson_pillar_minion in the master config", problems=["the jetson pillar is empty"])
    problems = Inventory(raw).problems()
    if problems:
        __context__["retcode"] = 1
        return {"result": False, "pillar_of": minion, "problems": problems, "retcode": 1}
    inventory = Inventory.load(raw)
    ret = {"result": True, "pillar_of": minion, "sites": sorted(inventory.sites),
           "boards": sorted(inventory.boards), "users": sorted(inventory.users)}
    ops = SaltOps(__opts__)
    return _check_exports(inventory, ops, _check_versions(inventory, ops, ret))


def _check_exports(inventory, ops, ret):
    """``ret`` with ``exports``: each site's exports the pillar does not know (runner/exports.py)."""
    ret["exports"] = exports_core.farm_report(inventory, ops)
    if ret["exports"]["problems"]:
        __context__["retcode"] = 1
        ret.update(result=False, retcode=1)
    return ret


def _check_versions(inventory, ops, ret):
    """``ret`` with ``versions``: the core's and every synced module copy's, master and sites;
    a copy of another version than the core fails the check (jetson_farm/versions.py)."""
    master = versions_core.report("master", __opts__.get("extension_modules"))
    ret["versions"] = versions_core.farm_report(inventory, ops, master)
    if ret["versions"]["problems"]:
        __context__["retcode"] = 1
        ret.update(result=False, retcode=1)
    return ret


def flash_command(board=None):
    """
    The L4T ``flash.sh`` line that makes a board boot from its NFS root.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.flash_command board=jtk1

    board
        The board, as in pillar ``jetson:boards``.
    """
    missing = _missing(board=board)
    if missing:
        return missing
    try:
        return build_flash_command(_inventory(), board)
    except JetsonError as err:
        return _failed(str(err))


# -- admin -------------------------------------------------------------------------------------


def reconcile():
    """
    Finish or roll back interrupted swaps on every site (``jetson_rootfs.reconcile``), then
    repair the runner's records: stale leases, interrupted switches, ended sessions.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.reconcile
    """
    try:
        inventory = _inventory()
        ops = SaltOps(__opts__)
        return admin.reconcile(_db().connect, inventory, ops)
    except JetsonError as err:
        return _failed(str(err))


def enroll(board=None, renew=False, boards=None):
    """
    Have the board's site server make its minion key pair in ``<root>/boards/<board>/identity/``
    (minion.pem 0600, kept if there) and accept its public key on the master. The private key
    never travels through Salt's job system.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.enroll board=jtk1
        salt-run jetson.enroll board=jtk1 renew=True
        salt-run jetson.enroll boards=jtk1,jtk2,jtk3
        salt-run jetson.enroll boards='[jtk1, jtk2]' renew=True

    board
        The board, as in pillar ``jetson:boards``.
    renew
        Replace the board's key pair with a new one (default: keep an existing pair).
    boards
        Several boards instead of ``board`` (a list, or names separated by commas), enrolled in
        this one call. Every name must be in pillar, else none is enrolled; then each board
        fails alone. Returns ``{"done": {board: <what board= returns>}, "failed": {board: why},
        "result"}``, with ``retcode`` 1 when a board failed.
    """
    if not isinstance(renew, bool):
        return _failed(f"renew= must be True or False, not {renew!r}")
    if boards is not None:
        return _enroll_many(board, boards, renew)
    missing = _missing(board=board)
    if missing:
        return missing
    try:
        return admin.enroll(_inventory(), SaltOps(__opts__), board, renew=renew)
    except JetsonError as err:
        return _failed(str(err))


def _enroll_many(board, boards, renew):
    if board is not None:
        return _failed("give board= or boards=, not both")
    names = [name.strip() for name in boards.split(",")] if isinstance(boards, str) else boards
    if not isinstance(names, list) or not names or not all(isinstance(b, str) and b for b in names):
        return _failed(f"boards= must be board names (a list, or separated by commas), not {boards!r}")
    try:
        done = admin.enroll_many(_inventory(), SaltOps(__opts__), names, renew=renew)
    except JetsonError as err:
        return _failed(str(err))
    if done["failed"]:
        return _failed("; ".join(f"{b}: {why}" for b, why in sorted(done["failed"].items())), **done)
    return dict(done, result=True)


def enroll_site(site_minion=None, boards=None):
    """
    Enroll the boards a site server asked for: what the master's reactor runs on the site's
    event ``jetson/site/enroll`` (salt/reactor/jetson_site_enroll.sls, fired by
    ``state.apply jetson.site``). The event only prompts: any minion can fire that tag with any
    ``id``. The site minion that pillar names for ``site_minion`` is asked for its
    pending-enrolment record (``jetson_switch.take_enrolment``, written by the site state before
    it fires, consumed here); without one nothing is enrolled and the run fails. Each board the
    record lists must be in pillar and served by that site; its public key is fetched from that
    site (``jetson_switch.ensure_identity``) and accepted, unless the master holds that very
    key already.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.enroll_site site_minion=site01 boards='[jtk1, jtk4]'

    site_minion
        The site server's minion id (the reactor passes the event's ``id``, which the sender
        may have written: the record on that site is what counts).
    boards
        The board names the event named; each must be served by that site, else nothing is done.
    """
    missing = _missing(site_minion=site_minion)
    if missing:
        return missing
    try:
        done = admin.enroll_site(_inventory(), SaltOps(__opts__), site_minion, boards)
    except JetsonError as err:
        return _failed(str(err))
    if done["refused"]:
        return _failed("; ".join(f"{b}: {why}" for b, why in sorted(done["refused"].items())), **done)
    return dict(done, result=True)


def quarantine(board=None, reason=None):  # pylint: disable=redefined-outer-name
    """
    Take a board out of service: no switch is accepted until ``jetson.unquarantine``.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.quarantine board=jtk1 reason="flaky ethernet"

    board
        The board, as in pillar ``jetson:boards``.
    reason
        Why, shown by ``jetson.status`` and in every refusal.
    """
    missing = _missing(board=board, reason=reason)
    if missing:
        return missing
    try:
        _inventory().board(board)
    except JetsonError as err:
        return _failed(str(err))
    with _db().connect() as conn:
        quarantine_core.put(conn, board, reason, by="admin")
        return quarantine_core.get(conn, board)


def unquarantine(board=None):
    """
    Put a quarantined board back in service.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.unquarantine board=jtk1

    board
        The board.
    """
    missing = _missing(board=board)
    if missing:
        return missing
    with _db().connect() as conn:
        if not quarantine_core.remove(conn, board):
            return _failed(f"board {board} is not quarantined", board=board)
    return {"board": board, "quarantined": False}


def image_build(site=None, recipe=None, image=None, files=None, force=False, timeout=3600):
    """
    Build an NFS-bootable image from scratch on a site server (its ``jetson_rootfs.build``) and
    register it in that site's store. Progress: events ``jetson/image/build/<user>/<name>``.

    CLI Example:

    .. code-block:: bash

        salt-run jetson.image_build site=site01 recipe=vm-base image=admin/nfs-base

    site
        The site, as in pillar ``jetson:sites``.
    recipe
        A recipe of the site's pillar ``jetson_recipes`` (docs/images.md).
    image, files, force
        As for ``jetson_rootfs.build``: the image it becomes, extra files, build again.
    timeout
        Seconds to wait for the build (a first one takes minutes).
    """
    missing = _missing(site=site)
    if missing:
        return missing
    options = {key: value for key, value in (("image", image), ("files", files), ("force", force)) if value}
    try:
        minion = _inventory().site(site).minion
        return SaltOps(__opts__).call(minion, "jetson_rootfs.build", *([recipe] if recipe else []),
                                      timeout=int(timeout), **options)
    except (JetsonError, ValueError) as err:
        return _failed(str(err))


IMAGE_COMMANDS = {"list": (), "usage": (), "import": ("name", "file"), "clone": ("src", "name"),
                  "remove": ("name",)}


def image(command=None, user=None, name=None, file=None, src=None, site=None, dry_run=False,
          timeout=3600):
    """
    What a user's ``jetson-image`` does, for the user an admin names, on a site server (its
    ``jetson_image`` module: the same names, quota and refusals; docs/admin-guide.md).

    CLI Example:

    .. code-block:: bash

        salt-run jetson.image list user=alice
        salt-run jetson.image import user=alice name=l4t file=/srv/upload/alice/rootfs.tbz2
        salt-run jetson.image clone user=alice src=admin/l4t-base name=base
        salt-run jetson.image remove user=alice name=old-test dry_run=True

    command
        ``list``, ``usage``, ``import`` (name, file), ``clone`` (src, name) or ``remove`` (name).
    user
        The user to act for, as in pillar ``jetson:users``.
    name, file, src
        The image's name; the tarball's path on the site server; the image to clone (the user's
        own, or a shared one as ``user/name``).
    site
        The site, as in pillar ``jetson:sites``; may be left out when there is one.
    dry_run
        For import, clone and remove: check everything, change nothing.
    timeout
        Seconds to wait for the site server (an import or a full copy takes minutes).
    """
    if command not in IMAGE_COMMANDS:
        return _failed(f"command must be one of {', '.join(IMAGE_COMMANDS)}, not {command!r}")
    given = {"name": name, "file": file, "src": src}
    missing = _missing(user=user, **{key: given[key] for key in IMAGE_COMMANDS[command]})
    if missing:
        return missing
    options = {"dry_run": True} if dry_run and IMAGE_COMMANDS[command] else {}
    try:
        inventory = _inventory()
        if site is None and len(inventory.sites) != 1:
            return _failed(f"site= is required: this farm has the sites {', '.join(sorted(inventory.sites))}")
        minion = inventory.site(site or next(iter(inventory.sites))).minion
        return SaltOps(__opts__).call(minion, f"jetson_image.{command}", user,
                                      *(given[key] for key in IMAGE_COMMANDS[command]),
                                      timeout=int(timeout), **options)
    except (JetsonError, ValueError) as err:
        return _failed(str(err))
