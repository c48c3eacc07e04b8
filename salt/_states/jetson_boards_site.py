"""The boards of this site server, from pillar: ``jetson_boards_site.present`` and ``.retired``.

Used by ``jetson/boards.sls`` (included by ``jetson/site.sls``). The work is
:mod:`jetson_farm.rootfs.site_boards`; why exports and key acceptance are done the way they
are: docs/architecture.md, "The site server", and docs/admin-guide.md, "Adding a board".
"""

from salt.exceptions import CommandExecutionError

from jetson_farm import nfs
from jetson_farm.errors import JetsonError
from jetson_farm.pillar import site_context
from jetson_farm.rootfs import enrolment, site_boards
from jetson_farm.rootfs.site import RootfsSite

__virtualname__ = "jetson_boards_site"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)

ENROLL_TAG = "jetson/site/enroll"


def __virtual__():
    return __virtualname__


def _site():
    """``(RootfsSite, NFS backend)`` of the site whose server is this minion."""
    inventory, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
    return RootfsSite(inventory, site), nfs.backend_for(site.nfs)


def _finish(ret, changes, refused, would, done_comment):
    if refused:
        ret["result"] = False
        ret["comment"] = "; ".join(f"{name}: {why}" for name, why in sorted(refused.items()))
    if __opts__["test"]:
        if would:
            ret["changes"] = would
            ret["result"] = None if not refused else False
        if not refused:
            ret["comment"] = f"{len(would)} boards would change" if would else done_comment
        return ret
    ret["changes"] = changes
    if not refused:
        ret["comment"] = f"{len(changes)} boards changed" if changes else done_comment
    return ret


def present(name):
    """Every board of this site in pillar has its record, its identity and, when idle, its export;
    then the master is asked to accept the boards' keys: a pending-enrolment record under
    ``<root>/state/enrol/`` names them, and the event ``jetson/site/enroll`` prompts the master.

    CLI Example:

    .. code-block:: bash

        salt site01 state.single jetson_boards_site.present name=jetson-boards

    name
        Only the state's ID; the boards are those of the site whose ``minion`` is this minion.

    A board is exported only when no swap or park works on it (its journal has no operation and
    its lock is free) and it is not parked (a release left it unexported on purpose); a new board
    is exported with its empty nfsroot. The event carries board names only: the master's
    reactor runs ``jetson.enroll_site``, which takes the pending record and each public key
    from this site itself.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        site, backend = _site()
        plans = site_boards.plan_present(site, backend)
    except (JetsonError, OSError) as err:
        ret.update(result=False, comment=str(err))
        return ret
    would = {board: {k: item[k] for k in ("record", "identity", "export") if item[k]}
             for board, item in plans.items()}
    would = {board: todo for board, todo in would.items() if todo}
    notes = [f"{board}: {item['note']}" for board, item in sorted(plans.items()) if item["note"]]
    refused = {board: item["refused"] for board, item in plans.items() if item["refused"]}
    changes = {}
    if not __opts__["test"]:
        changes, refused = site_boards.apply_present(site, backend, plans)
        _ask_enrolment(site, sorted(plans), ret)
    done = f"the {len(plans)} boards of this site are recorded, enrolled and exported where idle"
    _finish(ret, changes, refused, would, done)
    if notes:
        ret["comment"] += " (" + "; ".join(notes) + ")"
    return ret


def _ask_enrolment(site, boards, ret):
    """Record the enrol request for ``boards`` on this site, then fire the event that prompts the
    master to fetch it (the event alone enrolls nothing: anyone may fire it); a master that
    misses it is caught up at the next run."""
    if not boards:
        return
    try:
        enrolment.ask(site.layout, boards)
        sent = __salt__["event.send"](ENROLL_TAG, {"boards": boards})
    except (CommandExecutionError, JetsonError, OSError) as err:
        sent = False
        ret.setdefault("warnings", []).append(f"the enrol request did not reach the master: {err}")
    if not sent:
        ret.setdefault("warnings", []).append(
            f"the enrol request ({ENROLL_TAG}) did not reach the master: run "
            f"salt-run jetson.enroll board=<board> for {', '.join(boards)}")


def retired(name):
    """Every board this site served that pillar no longer lists is retired: unexported, its image
    parked back into its owner's slot, its identity and journal moved to
    ``<root>/attic/boards/<board>-<time>/``. A board in the middle of a switch, busy, booked or
    booted is refused, with the reason, and left as it is.

    CLI Example:

    .. code-block:: bash

        salt site01 state.single jetson_boards_site.retired name=jetson-retired-boards

    name
        Only the state's ID.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        site, backend = _site()
        plans, warnings = site_boards.plan_retire(site, backend)
    except (JetsonError, OSError) as err:
        ret.update(result=False, comment=str(err))
        return ret
    if warnings:
        ret["warnings"] = warnings
    refused = {board: item["refused"] for board, item in plans.items() if item["refused"]}
    would = {board: {"unexport": item["exported"], "park": item["image"], "attic": True}
             for board, item in plans.items() if not item["refused"]}
    changes = {}
    if not __opts__["test"]:
        changes, refused = site_boards.apply_retire(site, backend, plans)
    return _finish(ret, changes, refused, would, "no board to retire")
