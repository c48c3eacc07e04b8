"""Reconcile: make rule 1 hold again after a crash, from the journals in ``<root>/state/``.

For each board of the site: an operation left in its journal is resumed from its phase (the
steps check the disk before acting, so this is right whatever instant the crash hit); a board
with no operation is only checked (its image at the nfsroot and not in the store). Then the
staging and trash folders no live process holds are removed.
"""

import logging
import os

from jetson_farm.errors import JetsonError, Refused
from jetson_farm.rootfs import fsutil
from jetson_farm.rootfs.swap import recover

log = logging.getLogger(__name__)


def _check_settled(site, board, state):
    """Problems of a board with no operation in progress (reported, never guessed at)."""
    image = state["image"]
    if image is None:
        if not fsutil.exists(board.nfsroot) and os.path.isdir(os.path.dirname(board.nfsroot)):
            os.mkdir(board.nfsroot, 0o755)
            return "created the empty nfsroot", []
        return "nothing to do", []
    problems = []
    if not fsutil.is_real_dir(board.nfsroot):
        problems.append(f"board {board.name}: the state says {image} is at {board.nfsroot}, "
                        "but there is no folder there")
    if fsutil.exists(site.layout.image_path(image)):
        problems.append(f"board {board.name}: {image} is recorded at its nfsroot but its store "
                        "slot exists too")
    return "nothing to do", problems


def reconcile(site, *, is_exported):
    """``{"boards": {board: what was done}, "swept": [...], "problems": [...]}``."""
    result = {"boards": {}, "swept": [], "problems": []}
    seen = {}
    for board in site.boards():
        entry = {"action": "nothing to do"}
        try:
            with site.board_lock(board.name), site.store_lock():
                state = site.load_state(board.name)
                done = recover(site, board, state, is_exported)
                if done:
                    entry = {"action": f"{done['outcome']} the interrupted {done['operation']}",
                             **done}
                else:
                    action, problems = _check_settled(site, board, state)
                    entry["action"] = action
                    result["problems"] += problems
                if state["image"]:
                    if state["image"] in seen:
                        result["problems"].append(
                            f"{state['image']} is recorded at both {seen[state['image']]} and {board.name}")
                    seen[state["image"]] = board.name
        except Refused as err:
            entry = {"action": "skipped", "error": str(err)}
            result["problems"].append(str(err))
        except (JetsonError, OSError) as err:
            log.error("reconcile of board %s failed: %s", board.name, err)
            entry = {"action": "failed", "error": f"{type(err).__name__}: {err}"}
            result["problems"].append(f"board {board.name}: {err}")
        result["boards"][board.name] = entry
    result["swept"] = fsutil.sweep_orphans(site.layout.images_dir)
    return result
