"""One site server's rootfs store: the object the Salt module ``jetson_rootfs`` drives.

It takes the inventory and the site it serves, and never reads Salt's dunders; whether a
board's nfsroot is exported comes in as a callable (``is_exported(board) -> bool``), so the core
runs without ``jetson_nfs``.
"""

import os

from jetson_farm.errors import NotFound, Refused
from jetson_farm.layout import SiteLayout
from jetson_farm.names import check_name, parse_image
from jetson_farm.pillar import site_context
from jetson_farm.rootfs import clone, fsutil, reconcile, store, store_modes, swap, tarball

STORE_LOCK_WAIT = 120  # seconds: other boards' swaps in the same run finish in far less


class RootfsSite:
    """The store, boards and journals of ``site`` (a :class:`jetson_farm.inventory.Site`)."""

    def __init__(self, inventory, site):
        self.inventory = inventory
        self.site = site
        self.layout = SiteLayout(site.root)

    @classmethod
    def from_pillar(cls, pillar, minion_id):
        """The store of the site whose server is ``minion_id``, from that minion's pillar."""
        return cls(*site_context(pillar, minion_id))

    # -- the site's boards and their journals ----------------------------------------------

    def board(self, name):
        board = self.inventory.board(name)
        if board.site != self.site.name:
            raise NotFound(f"board {name!r} is served by site {board.site}, not by {self.site.name}")
        return board

    def boards(self):
        return sorted(self.inventory.boards_of_site(self.site.name), key=lambda b: b.name)

    def saved_dir(self, board):
        return os.path.join(self.layout.state_dir, f"{check_name('board', board)}.saved")

    def lock_path(self, board):
        return os.path.join(self.layout.state_dir, f"{check_name('board', board)}.lock")

    def board_lock(self, board):
        """One operation per board at a time: a second one is refused at once."""
        self.layout.ensure()
        return fsutil.exclusive_lock(self.lock_path(board), f"board {board}")

    def store_lock(self):
        """Moves of images between slots and nfsroots, one at a time over the whole store, so two
        boards never take the same image. Held for milliseconds (renames), so others wait."""
        self.layout.ensure()
        return fsutil.exclusive_lock(os.path.join(self.layout.state_dir, "store.lock"), "the store",
                                     wait=STORE_LOCK_WAIT)

    def image_lock(self, image, shared=False):
        """Held shared while an image is read (clone), exclusive while it is moved or removed.
        NotFound for an image that is nowhere, before its lock file is made: a name that was
        only asked for leaves no file behind."""
        user, name = parse_image(image)
        folder = os.path.join(self.layout.state_dir, "images")
        path = os.path.join(folder, f"{user}@{name}.lock")
        slot = self.layout.image_path(image)
        if not fsutil.exists(path) and not fsutil.exists(slot) and image not in self.placements():
            raise NotFound(f"image {image} does not exist in the store ({slot}) nor at any nfsroot")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return fsutil.exclusive_lock(path, f"image {image} (being cloned, moved or removed)",
                                     shared=shared)

    def load_state(self, board):
        state = fsutil.read_json(self.layout.state_file(board), default=None) or {}
        blank = {"board": board, "image": None, "user": None, "switch_id": None, "since": None,
                 "operation": None}
        blank.update({k: v for k, v in state.items() if k in blank})
        return blank

    def save_state(self, board, state):
        self.layout.ensure()
        fsutil.write_json(self.layout.state_file(board), state)

    def placements(self):
        """``{image: board}`` for every image at a board's nfsroot, from ``<root>/state/`` only.

        During an interrupted operation an image named in the journal whose slot is empty is
        at that board's nfsroot (rule 1: it is in exactly one of the two places).
        """
        where = {}
        for board in self.boards():
            state = self.load_state(board.name)
            op = state.get("operation") or {}
            for image in {state["image"], op.get("current"), op.get("target")} - {None}:
                if not fsutil.exists(self.layout.image_path(image)):
                    where[image] = board.name
        return where

    # -- the public operations -------------------------------------------------------------

    def swap(self, board, image, user=None, switch_id=None, *, is_exported):
        """Step 4 of the switch: ``image`` to the board's nfsroot, injected for ``user``."""
        return swap.swap(self, board, image, user=user, switch_id=switch_id, is_exported=is_exported)

    def park(self, board, *, is_exported):
        """Empty the board's nfsroot back into the image owner's slot, originals restored."""
        return swap.park(self, board, is_exported=is_exported)

    def reconcile(self, *, is_exported):
        """Finish or roll back every interrupted swap/park; sweep orphaned staging folders."""
        return reconcile.reconcile(self, is_exported=is_exported)

    def prepare(self, dry_run=False):
        """Make the store's folders with their owners and modes, and each board's empty nfsroot;
        refuse a split file system, and an nfsroot that is a symlink or a file.

        What the site state runs: a swap must be a ``rename(2)``, so the store and every
        nfsroot of the site must be on one file system. Everything is checked before anything
        is made. Returns what it created and what it fixed (with ``dry_run``, what it would).
        """
        missing, fixes = store_modes.plan(self.site.root)
        for board in self.boards():
            fsutil.check_same_filesystem(self.site.root, board.nfsroot, board.name)
            if os.path.islink(board.nfsroot):
                raise Refused(f"the nfsroot {board.nfsroot} of board {board.name} is a symlink: "
                              "it must be a real folder (a swap renames images onto it)")
            if not fsutil.exists(board.nfsroot):
                missing.append(board.nfsroot)
            elif not fsutil.is_real_dir(board.nfsroot):
                raise Refused(f"the nfsroot {board.nfsroot} of board {board.name} is not a directory")
        if not dry_run:
            store_modes.apply(self.site.root)
            for path in missing:
                os.makedirs(path, mode=0o755, exist_ok=True)
        return {"root": self.site.root, "created": missing, "fixed": fixes,
                "changed": bool(missing or fixes), "boards": [b.name for b in self.boards()]}

    def list_images(self, user=None):
        return store.list_images(self, user)

    def info(self, image):
        return store.info(self, image)

    def usage(self, user=None):
        return store.usage(self, user)

    def state(self, board=None):
        return store.state(self, board)

    def remove(self, image):
        return store.remove(self, image)

    def set_bookings(self, bookings):
        return store.set_bookings(self, bookings)

    def import_tar(self, user, name, source, before_write=None):
        return tarball.import_tar(self, user, name, source, before_write=before_write)

    def clone(self, src, dst, timeout=None, report=None):
        return clone.clone(self, src, dst, timeout=timeout, report=report)
