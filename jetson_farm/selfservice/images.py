"""What one user may do with their own images: list, usage, import, clone, remove.

A name a user gives is theirs: ``NAME`` or ``<user>/NAME``; another user's image is refused
(NotAllowed) and is only ever read as the source of a clone when it is shared with them (rule 3,
``Inventory.may_boot``). The quota (pillar ``users.<user>.quota_gb``, 0: none) is checked before
any byte is written, under a per-user lock so two imports of one user cannot both fit. Every
write is the store's own: ``import_tar`` (the safe extraction), ``clone``, ``remove``.
"""

import os

from jetson_farm.errors import JetsonError, NotAllowed, NotFound, Refused
from jetson_farm.names import check_name, image_ref, parse_image
from jetson_farm.rootfs import fsutil, store
from jetson_farm.selfservice import progress as progress_mod

GIB = store.GIB


class QuotaExceeded(Refused):
    """An import or clone that would take the user past their quota (nothing was written)."""


class _Checked(Exception):
    """Not an error: how a dry run's import stops, after the checks and the quota."""


def human(size):
    """``size`` bytes as people read it (``1.5 GB``; GB as the quota counts them, 2**30)."""
    for unit, scale in (("GB", GIB), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


class SelfService:
    """The images of ``user`` in the store of ``site`` (a :class:`~jetson_farm.rootfs.RootfsSite`)."""

    def __init__(self, site, user):
        self.site = site
        self.user = check_name("user", user)
        if user not in site.inventory.users:
            raise NotAllowed(f"{user} is not a user of this farm (pillar jetson:users): ask an admin "
                             "to add you")

    # -- names ----------------------------------------------------------------------------

    def own(self, name):
        """``user/name`` of one of the user's own images; NotAllowed for another user's."""
        if isinstance(name, str) and "/" in name:
            owner, short = parse_image(name)
            if owner != self.user:
                raise NotAllowed(f"image {name} is {owner}'s: you can only name your own images "
                                 f"({self.user}/<name> or just <name>)")
            return image_ref(owner, short)
        return image_ref(self.user, name)

    def source(self, ref):
        """The image a clone may read: the user's own, or one shared with them."""
        if not (isinstance(ref, str) and "/" in ref):
            return self.own(ref)
        owner, _ = parse_image(ref)
        if owner != self.user:
            try:
                self.site.inventory.may_boot(self.user, ref)
            except NotAllowed:
                raise NotAllowed(f"image {ref} is {owner}'s and not shared with you: you can clone "
                                 "your own images and the shared ones (jetson-image list)") from None
        return ref

    def _is_shared_with_me(self, ref, spec):
        shared = spec.get("shared", False)
        return parse_image(ref)[0] != self.user and (
            shared is True or (isinstance(shared, list) and self.user in shared))

    # -- reading ---------------------------------------------------------------------------

    def list(self):
        """``{user, images: [{image, name, where, board}], shared: [{image, where, board}]}``."""
        mine = [{key: item[key] for key in ("image", "name", "where", "board")}
                for item in store.list_images(self.site, self.user)]
        shared = []
        for ref, spec in sorted(self.site.inventory.images.items()):
            if not self._is_shared_with_me(ref, spec):
                continue
            try:
                _, board = store.locate(self.site, ref)
                where = "board" if board else "store"
            except NotFound:
                where, board = "missing", None
            shared.append({"image": ref, "where": where, "board": board,
                           "description": spec.get("description") or ""})
        return {"user": self.user, "images": mine, "shared": shared}

    def usage(self):
        """``{user, bytes, images, quota_gb, quota_bytes, over_quota, free_bytes}`` (free: None
        without a quota)."""
        used = store.usage(self.site, self.user)[self.user]
        free = max(used["quota_bytes"] - used["bytes"], 0) if used["quota_bytes"] else None
        return {"user": self.user, **used, "free_bytes": free}

    def check_room(self, needed, what):
        """Refused unless ``needed`` more bytes fit in the user's quota; the usage (``bytes`` None
        without a quota: then the walk over every file of the user's images is spared)."""
        if not self.site.inventory.users[self.user].quota_gb:
            return {"bytes": None, "quota_bytes": 0}
        used = self.usage()
        if used["quota_bytes"] and used["bytes"] + needed > used["quota_bytes"]:
            raise QuotaExceeded(
                f"over quota: {what} needs {human(needed)}; {self.user} uses {human(used['bytes'])} "
                f"of {used['quota_gb']:g} GB ({human(used['free_bytes'])} free). Nothing was written; "
                "remove an image first (jetson-image remove NAME) or ask an admin for more")
        return used

    def _check_free(self, image):
        if fsutil.exists(self.site.layout.image_path(image)) or image in self.site.placements():
            raise JetsonError(f"image {image} already exists; remove it first or pick another name")

    def _user_lock(self):
        """One import or clone per user at a time: the quota check and the write it allows."""
        folder = os.path.join(self.site.layout.state_dir, "users")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return fsutil.exclusive_lock(os.path.join(folder, f"{self.user}.lock"),
                                     f"the images of {self.user} (another import or clone of yours)")

    # -- writing ---------------------------------------------------------------------------

    def import_tarball(self, name, fd, shown, dry_run=False, report=None):
        """Import the tarball open at ``fd`` (``shown``: its path as the user gave it) as ``name``.

        The store checks every member first; then the regular members' sizes plus the user's
        usage must fit the quota, before anything is written.
        """
        image = self.own(name)
        self.site.layout.ensure()
        facts = {"image": image, "source": shown, "dry_run": dry_run}

        def fits(members):
            needed = sum(member.size for member in members if member.isreg())
            used = self.check_room(needed, f"importing {shown} ({human(needed)} of files)")
            facts.update(bytes=needed, used_bytes=used["bytes"], quota_bytes=used["quota_bytes"],
                         members=len(members))
            if dry_run:
                raise _Checked

        # The store opens the tarball itself: through this fd, so root reads only the file the
        # caller opened with their own rights.
        source = f"/proc/self/fd/{fd}"
        with self._user_lock():
            self._check_free(image)
            try:
                with progress_mod.watch_reads(fd, None if dry_run else report):
                    self.site.import_tar(self.user, parse_image(image)[1], source, before_write=fits)
            except _Checked:
                return dict(facts, comment=f"would import {shown} as {image} ({human(facts['bytes'])})")
            except JetsonError as err:
                raise type(err)(str(err).replace(source, shown)) from None
        return dict(facts, comment=f"imported {shown} as {image}")

    def clone(self, src, name, dry_run=False, report=None):
        """Copy the user's own image or a shared one (``src``) to their new image ``name``
        (``report(done_bytes, total_bytes)`` as the copy goes)."""
        source, image = self.source(src), self.own(name)
        self.site.layout.ensure()
        with self._user_lock():
            self._check_free(image)
            needed = store.info(self.site, source)["size_bytes"]
            used = self.check_room(needed, f"cloning {source} ({human(needed)})")
            ret = {"image": image, "source": source, "bytes": needed, "used_bytes": used["bytes"],
                   "quota_bytes": used["quota_bytes"], "dry_run": dry_run}
            if dry_run:
                return dict(ret, comment=f"would clone {source} to {image} ({human(needed)})")
            made = self.site.clone(source, image, report=report)
        return dict(ret, method=made["method"], seconds=made["seconds"],
                    comment=f"cloned {source} to {image} ({made['method']})")

    def remove(self, name, dry_run=False):
        """Delete one of the user's parked images; Refused while it is booted or booked."""
        image = self.own(name)
        if dry_run:
            store.check_removable(self.site, image)
            return {"image": image, "removed": False, "dry_run": True,
                    "comment": f"would remove {image}"}
        return dict(self.site.remove(image), dry_run=False)
