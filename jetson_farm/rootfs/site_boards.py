"""The boards of one site as the site state keeps them (docs/architecture.md, "The site server").

For every board of the site in pillar: a record of where it boots from
(``<root>/boards/<board>/board.json``), its identity (the minion key pair, made where missing)
and its export, made only for an idle board that is not parked. For every board the site
served before and pillar no longer lists (it still has a record): refused while it is in the
middle of a switch, busy, booked or booted; else unexported, its image parked back into its
owner's slot, and its folder (identity, record, journal) moved to ``<root>/attic/boards/``.

Plain Python: the NFS backend comes in as an argument (``jetson_farm.nfs.backend_for``).
"""

import datetime
import logging
import os

from jetson_farm.errors import InvalidName, JetsonError, Refused
from jetson_farm.inventory import Board
from jetson_farm.names import check_name
from jetson_farm.rootfs import fsutil, store
from jetson_farm.rootfs.site import RootfsSite
from jetson_farm.runner.identity_store import PRIVATE, ensure_identity, is_complete

log = logging.getLogger(__name__)

RECORD = "board.json"


def record_of(board):
    return {"board": board.name, "minion": board.minion, "ip": board.ip, "nfsroot": board.nfsroot}


def _record_path(site, name):
    return os.path.join(site.layout.boards_dir, check_name("board", name), RECORD)


def read_record(site, name):
    """The board recorded under ``<root>/boards/<name>/`` as a :class:`Board`, or None."""
    data = fsutil.read_json(_record_path(site, name), default=None)
    if data is None:
        return None
    try:
        nfsroot = data["nfsroot"]
        if not (isinstance(nfsroot, str) and os.path.isabs(nfsroot) and os.path.normpath(nfsroot) == nfsroot):
            raise JetsonError(f"nfsroot {nfsroot!r} is not a normalised absolute path")
        return Board(name=check_name("board", data["board"]), site=site.site.name,
                     minion=check_name("minion", data["minion"]), ip=str(data["ip"]), nfsroot=nfsroot)
    except (KeyError, TypeError, InvalidName, JetsonError) as err:
        raise JetsonError(f"the record {_record_path(site, name)} is not one this farm wrote "
                          f"({err}): fix or remove it by hand") from None


def _has_journal(site, name):
    return fsutil.exists(site.layout.state_file(name))


def _why_busy(site, name):
    """Why the board may not be touched now (a switch or park works on it), or None."""
    state = site.load_state(name)
    op = state.get("operation")
    if op:
        return (f"board {name} is in the middle of a {op['kind']} (phase {op['phase']}, since "
                f"{op.get('started')}): let the switch finish, or run salt-run jetson.reconcile")
    if fsutil.is_locked(site.lock_path(name)):
        return f"board {name} is busy: a swap, park or reconcile works on it now"
    return None


# -- the boards in pillar -----------------------------------------------------------------------

def plan_present(site, backend):
    """``{board: {"record", "identity", "export"}}``: what each board of pillar still needs
    (each value a short reason, or None when nothing is to do), plus ``refused`` per board."""
    plans = {}
    for board in site.boards():
        item = {"record": None, "identity": None, "export": None, "refused": None, "note": None}
        old = read_record(site, board.name)
        if old is None:
            item["record"] = "recorded"
        elif record_of(old) != record_of(board):
            state = site.load_state(board.name)
            if old.nfsroot != board.nfsroot and (state["image"] or state["operation"]):
                item["refused"] = (f"board {board.name}'s nfsroot moved in pillar from {old.nfsroot} to "
                                   f"{board.nfsroot} while image {state['image']} is at the old one: "
                                   "release the board with the old pillar first")
                plans[board.name] = item
                continue
            item["record"] = "updated"
        identity = site.layout.identity_dir(board.name)
        if not os.path.isfile(os.path.join(identity, PRIVATE)):
            item["identity"] = "made"
        elif not is_complete(identity):
            item["identity"] = "SSH host keys made"  # a board enrolled before the farm kept them
        _plan_export(site, backend, board, item)
        plans[board.name] = item
    return plans


def _plan_export(site, backend, board, item):
    busy = _why_busy(site, board.name)
    parked = _has_journal(site, board.name) and site.load_state(board.name)["image"] is None
    if busy:
        item["note"] = f"export left to the switch: {busy}"
    elif parked:
        # The switch or release parked it and left it unexported on purpose.
        item["note"] = "parked (no image): left unexported until a switch puts an image there"
    elif not fsutil.is_real_dir(board.nfsroot) or not is_exported(backend, board):
        item["export"] = "exported"


def is_exported(backend, board):
    """True when the board's export is live, in the backend's owned file, and to its ip only."""
    return any(e["board"] == board.name and e["current"] and e["configured"]
               for e in backend.exports([board]))


def apply_present(site, backend, plans):
    """Do what :func:`plan_present` found; ``{board: changes}`` and ``{board: reason}`` refused."""
    changes, refused = {}, {}
    for name, item in plans.items():
        board = site.board(name)
        if item["refused"]:
            refused[name] = item["refused"]
            continue
        done = {}
        try:
            if item["record"]:
                site.layout.ensure()
                os.makedirs(os.path.dirname(_record_path(site, name)), mode=0o755, exist_ok=True)
                fsutil.write_json(_record_path(site, name), record_of(board))
                done["record"] = item["record"]
            if item["identity"]:
                ensure_identity(site.site.root, name)
                done["identity"] = "minion key pair made" if item["identity"] == "made" else item["identity"]
            if item["export"]:
                _export_idle(site, backend, board, done)
        except (JetsonError, OSError) as err:
            refused[name] = str(err)
        if done:
            changes[name] = done
    return changes, refused


def _export_idle(site, backend, board, done):
    # Under the board lock, so no swap or park of the board starts while it is exported; a
    # switch between its unexport (step 3) and its swap (step 4) holds no site lock, but its
    # swap refuses an exported nfsroot, so the race costs a retry, never an image.
    with site.board_lock(board.name):
        busy = _why_busy_unlocked(site, board.name)
        if busy:
            raise Refused(busy)
        result = backend.export(board)
    if result.changes:
        done["export"] = dict(result.changes)


def _why_busy_unlocked(site, name):
    op = site.load_state(name).get("operation")
    return f"board {name} is in the middle of a {op['kind']}" if op else None


# -- the boards pillar no longer lists ---------------------------------------------------------

class _SiteWithRetired(RootfsSite):
    """The site, also knowing the retired boards by their records (so ``park`` finds them)."""

    def __init__(self, site, retired):
        super().__init__(site.inventory, site.site)
        self._retired = {board.name: board for board in retired}

    def board(self, name):
        if name in self._retired:
            return self._retired[name]
        return super().board(name)


def retired_boards(site):
    """``(boards, warnings)``: the recorded boards pillar no longer lists for this site (a board
    pillar moved to another site is retired here too: its image belongs to this site's store)."""
    listed = {board.name for board in site.boards()}
    boards, warnings = [], []
    if not os.path.isdir(site.layout.boards_dir):
        return boards, warnings
    for name in sorted(os.listdir(site.layout.boards_dir)):
        if name in listed or name.startswith("."):
            continue
        try:
            board = read_record(site, name)
        except (InvalidName, JetsonError) as err:
            warnings.append(str(err))
            continue
        if board is None:
            warnings.append(f"{os.path.join(site.layout.boards_dir, name)} is not in pillar and has no "
                            f"{RECORD} (made before the site state kept records): left alone")
            continue
        boards.append(board)
    return boards, warnings


def why_not_retire(site, backend, board, now=None):
    """Why ``board`` may not be retired now, or None."""
    busy = _why_busy(site, board.name)
    if busy:
        return busy
    for booking in store.current_bookings(site, now=now):
        if booking["board"] == board.name:
            return (f"board {board.name} is booked by {booking['user']} from {booking['start']} to "
                    f"{booking['end']}: cancel the booking first")
    sessions = [s for s in backend.sessions(ip=board.ip) if s["via"] == "tcp"]
    if sessions:
        return (f"board {board.name} is booted: it holds an NFS session from {board.ip}; "
                "power it off (or release it) first")
    return None


def plan_retire(site, backend):
    """``(plans, warnings)``: per retired board, what retiring it does, or why it is refused."""
    boards, warnings = retired_boards(site)
    plans = {}
    for board in boards:
        refused = why_not_retire(site, backend, board)
        image = site.load_state(board.name)["image"]
        plans[board.name] = {"board": board, "refused": refused, "image": image,
                             "exported": backend.is_exported(board)}  # live, for any client
    return plans, warnings


def _attic_path(site, name):
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(site.site.root, "attic", "boards", f"{name}-{stamp}")


def apply_retire(site, backend, plans):
    """Retire every board of ``plans`` that is not refused: unexport, park, move to the attic."""
    changes, refused = {}, {}
    retiring = _SiteWithRetired(site, [p["board"] for p in plans.values()])
    for name, item in plans.items():
        if item["refused"]:
            refused[name] = item["refused"]
            continue
        board, done = item["board"], {}
        try:
            result = backend.unexport(board)
            if result.changes:
                done["unexported"] = dict(result.changes)
            parked = retiring.park(name, is_exported=lambda b: backend.is_exported(retiring.board(b)))
            if parked["parked"]:
                done["parked"] = f"{parked['parked']} back in its owner's slot"
            done["attic"] = _to_attic(site, name)
        except (JetsonError, OSError) as err:
            refused[name] = f"retiring board {name} stopped: {err}"
        if done:
            changes[name] = done
    return changes, refused


def _to_attic(site, name):
    """Move the board's folder (identity, record) and its journal into the attic; never deletes."""
    attic = _attic_path(site, name)
    os.makedirs(os.path.dirname(attic), mode=0o700, exist_ok=True)
    fsutil.rename(os.path.join(site.layout.boards_dir, name), attic)
    journal = site.layout.state_file(name)
    if fsutil.exists(journal):
        fsutil.rename(journal, os.path.join(attic, "journal.json"))
    log.info("board %s retired: its identity and journal are in %s", name, attic)
    return attic

