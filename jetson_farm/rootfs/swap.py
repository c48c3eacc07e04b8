"""Step 4 of the switch: park the image at a board's nfsroot, move the target in, inject.

Every move is a ``rename(2)`` on one file system, and every step is journalled in
``<root>/state/<board>.json`` (atomically) before it runs. Each step checks the file system
before acting, so running it again after a crash at any point is safe: :func:`recover` simply
resumes the journalled operation (rolling it back when the injection cannot be done).

Phases of an operation (``operation.phase`` in the journal):

* swap: ``restore`` -> ``park-current`` -> ``move-target`` -> ``inject`` -> ``done``
  (without a current image it starts at ``move-target``)
* park: ``restore`` -> ``park-current`` -> ``placeholder`` -> ``done``
* rollback of a failed injection: ``abort-restore`` -> ``abort-move-back`` -> ``placeholder``
  -> ``done``
"""

import logging
import os
import re
import uuid

from jetson_farm.errors import InvalidName, JetsonError, Refused, UnsafePath
from jetson_farm.names import parse_image
from jetson_farm.rootfs import fsutil
from jetson_farm.rootfs.crash import crash_point
from jetson_farm.rootfs.identity import injections
from jetson_farm.rootfs.inject import SavedOriginals, inject, preflight, restore

log = logging.getLogger(__name__)

SWITCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$")


def new_switch_id():
    return uuid.uuid4().hex[:12]


def _lost(image, where):
    return JetsonError(f"image {image} is neither in its store slot nor at {where}: "
                       "the journal does not match the disk; fix it by hand")


class Operation:
    """One journalled swap, park or rollback of one board, run from its current phase."""

    def __init__(self, site, board, state, op):
        self.site, self.board, self.state, self.op = site, board, state, op
        self.nfsroot = board.nfsroot
        self.saved = SavedOriginals(site.saved_dir(board.name))
        self.report = {"not_restored": [], "injected": [], "steps": []}

    def run(self):
        while self.op["phase"] != "done":
            self.state["operation"] = self.op
            self.site.save_state(self.board.name, self.state)
            crash_point(f"journal:{self.op['kind']}:{self.op['phase']}")
            phase = self.op["phase"]
            self.report["steps"].append(phase)
            self.op["phase"] = getattr(self, "_" + phase.replace("-", "_"))()
        crash_point(f"journal:{self.op['kind']}:done")
        final = self.op["final"]
        self.state.update(final, operation=None, since=fsutil.now() if final["image"] else None)
        self.site.save_state(self.board.name, self.state)
        return self.report

    def _slot(self, image):
        return self.site.layout.image_path(image)

    def _rename(self, name, src, dst):
        crash_point(f"rename:{name}")
        fsutil.rename(src, dst)
        crash_point(f"renamed:{name}")

    def _restore(self):
        _, failed = restore(self.nfsroot, self.op["current"], self.saved, self.op["current"])
        self.report["not_restored"] += failed
        return "park-current"

    def _park_current(self):
        current, slot = self.op["current"], self._slot(self.op["current"])
        if fsutil.exists(self.nfsroot) and not fsutil.exists(slot):
            os.makedirs(os.path.dirname(slot), mode=0o755, exist_ok=True)
            self._rename("park-current", self.nfsroot, slot)
        elif not fsutil.exists(slot):
            raise _lost(current, self.nfsroot)
        elif fsutil.exists(self.nfsroot):
            raise JetsonError(f"image {current} is both in its slot {slot} and at {self.nfsroot}?: "
                              "fix it by hand")
        return "move-target" if self.op["kind"] == "swap" else "placeholder"

    def _move_target(self):
        target, slot = self.op["target"], self._slot(self.op["target"])
        if fsutil.exists(slot):
            # rename(2) replaces the empty placeholder folder at the nfsroot atomically.
            self._rename("move-target", slot, self.nfsroot)
        elif not fsutil.exists(self.nfsroot):
            raise _lost(target, self.nfsroot)
        return "inject"

    def _inject(self):
        op = self.op
        try:
            items = injections(self.site.inventory, self.board, op["target"], op["user"],
                               op["switch_id"], self.site.layout.identity_dir(self.board.name))
            self.report["injected"] = inject(self.nfsroot, op["target"], items, self.saved,
                                             op["target"], op["switch_id"])
        except (JetsonError, OSError) as err:
            log.error("injecting into %s at %s failed, rolling back: %s", op["target"], self.nfsroot, err)
            op["error"] = f"{type(err).__name__}: {err}"
            op["final"] = {"image": None, "user": None, "switch_id": None}
            return "abort-restore"
        return "done"

    def _abort_restore(self):
        _, failed = restore(self.nfsroot, self.op["target"], self.saved, self.op["target"])
        self.report["not_restored"] += failed
        return "abort-move-back"

    def _abort_move_back(self):
        target, slot = self.op["target"], self._slot(self.op["target"])
        if fsutil.exists(self.nfsroot) and not fsutil.exists(slot):
            self._rename("abort-move-back", self.nfsroot, slot)
        elif not fsutil.exists(slot):
            raise _lost(target, self.nfsroot)
        return "placeholder"

    def _placeholder(self):
        if not fsutil.exists(self.nfsroot):
            # An empty folder, so the export of a board with no image still has its path.
            os.mkdir(self.nfsroot, 0o755)
            fsutil.fsync_dir(os.path.dirname(self.nfsroot))
        return "done"


def recover(site, board, state, is_exported):
    """Finish (or roll back) the operation journalled in ``state``; what was done, or None."""
    op = state.get("operation")
    if not op:
        return None
    if is_exported(board.name):
        raise Refused(f"board {board.name} has an interrupted {op['kind']} but its nfsroot "
                      f"{board.nfsroot} is exported: unexport it, then run reconcile")
    log.warning("board %s: resuming the interrupted %s at phase %s", board.name, op["kind"], op["phase"])
    phase = op["phase"]
    report = Operation(site, board, state, op).run()
    outcome = "rolled back" if op.get("error") else "finished"
    return {"operation": op["kind"], "from_phase": phase, "outcome": outcome,
            "error": op.get("error"), "image": state["image"],
            "not_restored": report["not_restored"]}


def _check_board_ready(site, board, is_exported):
    if is_exported(board.name):
        raise Refused(f"the nfsroot {board.nfsroot} of board {board.name} is exported: "
                      "unexport it first (switch step 3)")
    if not os.path.isdir(os.path.dirname(board.nfsroot)):
        raise JetsonError(f"the parent folder of nfsroot {board.nfsroot} (board {board.name}) "
                          "does not exist: apply the site state first")
    site.layout.ensure()
    fsutil.check_same_filesystem(site.layout.images_dir, board.nfsroot, board.name)


def _check_target(site, board, image):
    slot = site.layout.image_path(image)
    if fsutil.is_real_dir(slot):
        return slot
    elsewhere = site.placements().get(image)
    if elsewhere and elsewhere != board.name:
        raise Refused(f"image {image} is at the nfsroot of board {elsewhere}: park it there first")
    if fsutil.exists(slot):
        raise UnsafePath(f"{slot} is not a folder (a symlink?): refusing to use it as image {image}")
    raise JetsonError(f"image {image} does not exist in the store ({slot})")


def _check_current(site, board, current):
    if current is None:
        if fsutil.is_real_dir(board.nfsroot) and os.listdir(board.nfsroot):
            raise Refused(f"the nfsroot {board.nfsroot} of board {board.name} holds files but the "
                          "state says no image is there: move them away by hand")
        if fsutil.exists(board.nfsroot) and not fsutil.is_real_dir(board.nfsroot):
            raise UnsafePath(f"the nfsroot {board.nfsroot} of board {board.name} is not a folder")
        return
    if fsutil.exists(site.layout.image_path(current)):
        raise JetsonError(f"image {current} is recorded at board {board.name} but its store slot "
                          "exists too: fix it by hand")
    if not fsutil.is_real_dir(board.nfsroot):
        raise _lost(current, board.nfsroot)


def check_switch_id(switch_id):
    """``switch_id`` if it is None or a safe id (it lands in the marker and a comment line)."""
    if switch_id is not None and (not isinstance(switch_id, str) or not SWITCH_ID_RE.match(switch_id)):
        raise InvalidName(f"invalid switch id {switch_id!r}: it must match {SWITCH_ID_RE.pattern}")
    return switch_id


def swap(site, board_name, image, user=None, switch_id=None, *, is_exported):
    """Put ``image`` at the board's nfsroot for ``user`` (see :meth:`RootfsSite.swap`)."""
    board = site.board(board_name)
    owner, _ = parse_image(image)
    check_switch_id(switch_id)
    user = user or owner
    site.inventory.may_boot(user, image)
    with site.board_lock(board.name), site.store_lock(), site.image_lock(image):
        state = site.load_state(board.name)
        recovered = recover(site, board, state, is_exported)
        result = {"board": board.name, "image": image, "user": user, "changed": False,
                  "parked": None, "injected": [], "not_restored": [], "recovered": recovered}
        if (state["image"] == image and state["user"] == user and fsutil.is_real_dir(board.nfsroot)
                and switch_id in (None, state["switch_id"])):
            result.update(switch_id=state["switch_id"],
                          comment=f"{image} is already at the nfsroot of {board.name} for {user} "
                                  f"(switch {state['switch_id']}): nothing changed")
            return result
        _check_board_ready(site, board, is_exported)
        current = state["image"]
        _check_current(site, board, current)
        slot = _check_target(site, board, image) if image != current else None
        switch_id = switch_id or new_switch_id()
        items = injections(site.inventory, board, image, user, switch_id,
                           site.layout.identity_dir(board.name))
        preflight(slot or board.nfsroot, image, items)
        op = {"kind": "swap", "current": current, "target": image, "user": user,
              "switch_id": switch_id, "started": fsutil.now(),
              "phase": "restore" if current else "move-target",
              "final": {"image": image, "user": user, "switch_id": switch_id}}
        report = Operation(site, board, state, op).run()
        result.update(switch_id=switch_id, parked=current, injected=report["injected"],
                      not_restored=report["not_restored"])
        if op.get("error"):
            kind = UnsafePath if op["error"].startswith("UnsafePath") else JetsonError
            raise kind(f"swap of {image} onto board {board.name} failed and was rolled back "
                             f"({image} is back in its slot, the board has no image): {op['error']}")
        result.update(changed=True, comment=f"{image} is at the nfsroot of {board.name} for {user}"
                      + (f"; {current} parked" if current else ""))
        return result


def park(site, board_name, *, is_exported):
    """Move the board's image back to its owner's slot (see :meth:`RootfsSite.park`)."""
    board = site.board(board_name)
    with site.board_lock(board.name), site.store_lock():
        state = site.load_state(board.name)
        recovered = recover(site, board, state, is_exported)
        current = state["image"]
        result = {"board": board.name, "parked": None, "changed": False, "not_restored": [],
                  "recovered": recovered}
        if current is None:
            if not fsutil.exists(board.nfsroot) and os.path.isdir(os.path.dirname(board.nfsroot)):
                os.mkdir(board.nfsroot, 0o755)
            result["comment"] = f"no image is at the nfsroot of {board.name}: nothing changed"
            return result
        _check_board_ready(site, board, is_exported)
        _check_current(site, board, current)
        op = {"kind": "park", "current": current, "target": None, "user": None, "switch_id": None,
              "started": fsutil.now(), "phase": "restore",
              "final": {"image": None, "user": None, "switch_id": None}}
        report = Operation(site, board, state, op).run()
        result.update(parked=current, changed=True, not_restored=report["not_restored"],
                      comment=f"{current} is back in its slot; the nfsroot of {board.name} is empty")
        return result
