"""The rootfs image store of a site server: list, swap, park, reconcile, import, clone, remove.

A thin door over :class:`jetson_farm.rootfs.RootfsSite`: the site is the one whose ``minion``
is this minion (pillar ``jetson``). Whether a board's nfsroot is exported is asked of
``jetson_nfs.is_exported``; a swap, park or reconcile refuses while it is. See
docs/reference/jetson_rootfs.md and docs/site-layout.md.
"""

import logging
import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

import jetson_farm
from jetson_farm import batch
from jetson_farm.errors import InvalidName, JetsonError
from jetson_farm.rootfs import RootfsSite, chroot
from jetson_farm.rootfs import build as build_core
from jetson_farm.rootfs import recipe as recipe_core

log = logging.getLogger(__name__)

__virtualname__ = "jetson_rootfs"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)
__func_alias__ = {"list_": "list"}


def __virtual__():
    return __virtualname__


def _call(method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except InvalidName as err:
        raise SaltInvocationError(f"jetson_rootfs: {err}") from err
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_rootfs: {err}") from err


def _store():
    return _call(RootfsSite.from_pillar, {"jetson": __pillar__.get("jetson", {})}, __opts__["id"])


def _is_exported(board):
    if "jetson_nfs.is_exported" not in __salt__:
        raise CommandExecutionError(
            "jetson_rootfs: the jetson_nfs module is not available, so whether the nfsroot of "
            f"board {board} is exported cannot be told: sync the modules (saltutil.sync_modules)")
    return bool(__salt__["jetson_nfs.is_exported"](board))


def _required(name, value):
    if not isinstance(value, str) or not value:
        raise SaltInvocationError(f"jetson_rootfs: {name} is required")
    return value


def prepare(test=False):
    """Create the store's folders (root-owned, with the modes of docs/site-layout.md) and each
    board's empty nfsroot, after checking the file systems.

    The site state (``jetson/site.sls``) runs it. It refuses when the store and a board's
    nfsroot are on different file systems, since a swap must be a ``rename(2)``, and an nfsroot
    or store folder that is a symlink or a file.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.prepare

    test
        ``True``: change nothing, say what would be created.

    Returns ``{"root", "created": [paths], "fixed": {path: owner/mode fixed}, "changed", "boards"}``.
    """
    return _call(_store().prepare, dry_run=bool(test))


def list_(user=None):
    """List the images in the store and at the boards' nfsroots, with where each one is.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.list
        salt site01 jetson_rootfs.list user=alice

    user
        Only this user's images.

    Returns ``[{"image", "user", "name", "where": "store"|"board", "board", "path"}]``.
    """
    return _call(_store().list_images, user)


def info(image):
    """Tell where one image is, its size and its owner.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.info alice/cuda-dev

    image
        The image, ``user/name``.

    Returns ``{"image", "owner", "name", "where", "board", "path", "size_bytes"}``.
    """
    return _call(_store().info, _required("image", image))


def usage(user=None):
    """Bytes used per user (images in the store and at nfsroots) against their ``quota_gb``.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.usage
        salt site01 jetson_rootfs.usage user=alice

    user
        Only this user.

    Returns ``{user: {"bytes", "images", "quota_gb", "quota_bytes", "over_quota"}}``.
    """
    return _call(_store().usage, user)


def state(board=None):
    """The journal of a board (or of every board of the site): its image, since, switch id, and
    any operation in progress or interrupted.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.state jtk1

    board
        One board of this site; all of them when omitted.
    """
    return _call(_store().state, board)


def swap(board, image, user=None, switch_id=None):
    """Put an image at a board's nfsroot (step 4 of the switch), parking the current one.

    Refuses while the board's nfsroot is exported. Idempotent: the same image, user and
    switch id already there changes nothing.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.swap jtk1 alice/cuda-dev
        salt site01 jetson_rootfs.swap jtk1 admin/l4t-base user=alice switch_id=20261124-0900-jtk1

    board
        The board, of this site.
    image
        The image to boot, ``user/name``.
    user
        Whose SSH keys go into ``root/.ssh/authorized_keys``; they must be allowed to boot the
        image. Default: the image's owner.
    switch_id
        The switch this swap belongs to, written into the marker. Default: a new one.

    Returns ``{"board", "image", "user", "switch_id", "changed", "parked", "injected",
    "not_restored", "recovered", "comment"}``.
    """
    store = _store()
    if switch_id is not None:
        switch_id = str(switch_id)  # the CLI turns a numeric id into an int
    return _call(store.swap, _required("board", board), _required("image", image), user=user,
                 switch_id=switch_id, is_exported=_is_exported)


def park(board):
    """Move the image at a board's nfsroot back to its owner's slot, restoring injected files.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.park jtk1

    board
        The board, of this site.

    Returns ``{"board", "parked", "changed", "not_restored", "recovered", "comment"}``.
    """
    return _call(_store().park, _required("board", board), is_exported=_is_exported)


def swap_many(swaps):
    """Put images at several boards' nfsroots in one job (step 4 of a switch of many boards).

    Each item is a swap (``image`` set) or a park (``image`` empty); each board fails alone.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.swap_many '[{"board": "jtk1", "image": "alice/cuda-dev", \
            "user": "alice", "switch_id": "jtk1-20261124T0900Z-1a2b"}, {"board": "jtk2", "image": ""}]'

    swaps
        A list of ``{"board", "image", "user", "switch_id"}``; ``user`` and ``switch_id`` as
        for ``swap``.

    Returns ``{"done": {board: <what swap or park returns>}, "failed": {board: message}}``.
    """
    if not isinstance(swaps, list) or not swaps or not all(
            isinstance(item, dict) and isinstance(item.get("board"), str) for item in swaps):
        raise SaltInvocationError("jetson_rootfs: swaps must be a non-empty list of mappings with a board")
    store = _store()
    wanted = {item["board"]: item for item in swaps}

    def put(board):
        item = wanted[board]
        if not item.get("image"):
            return store.park(board, is_exported=_is_exported)
        switch_id = None if item.get("switch_id") is None else str(item["switch_id"])
        return store.swap(board, item["image"], user=item.get("user"), switch_id=switch_id,
                          is_exported=_is_exported)

    return batch.each(wanted, put, errors=(JetsonError, CommandExecutionError))


def reconcile():
    """Finish or roll back every interrupted swap or park of this site, from the journals.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.reconcile

    Returns ``{"boards": {board: {"action", ...}}, "swept": [...], "problems": [...]}``.
    """
    return _call(_store().reconcile, is_exported=_is_exported)


def import_tar(user, name, source):
    """Create the image ``user/name`` from a rootfs tarball on the site server.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.import_tar admin l4t-r21.8 /srv/jetson/upload/rootfs.tbz2

    user
        The owner of the new image.
    name
        The image's name.
    source
        Absolute path of a ``.tar``, ``.tar.gz``/``.tgz`` or ``.tbz2``/``.tar.bz2``/``.tar.xz``.

    Returns ``{"image", "path", "members", "comment"}``.
    """
    return _call(_store().import_tar, _required("user", user), _required("name", name),
                 _required("source", source))


def clone(src, dst):
    """Copy a parked image to a new one (a reflink where the file system can).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.clone admin/l4t-base alice/cuda-dev

    src
        The image to copy, ``user/name``; it must be parked (not at an nfsroot).
    dst
        The new image, ``user/name``.

    Returns ``{"image", "source", "path", "comment"}``.
    """
    return _call(_store().clone, _required("src", src), _required("dst", dst))


def remove(image):
    """Delete a parked image; refused while it is at an nfsroot or booked.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.remove alice/old-test

    image
        The image, ``user/name``.

    Returns ``{"image", "removed", "comment"}``.
    """
    return _call(_store().remove, _required("image", image))


def set_bookings(bookings):
    """Save the bookings the master pushes (``remove`` refuses a booked image).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.set_bookings '[{"image": "alice/cuda-dev", "board": "jtk1", \
            "user": "alice", "start": "2026-11-24T09:00+01:00", "end": "2026-11-24T18:00+01:00"}]'

    bookings
        A list of ``{"image", "board", "user", "start", "end"}`` (ISO 8601 times); it replaces
        the saved list as a whole.

    Returns ``{"bookings": count, "changed"}``.
    """
    return _call(_store().set_bookings, bookings)


def build(recipe=None, image=None, release=None, arch=None, packages=None, files=None,
          salt_version=None, mirror=None, force=False):
    """Build an NFS-bootable image from scratch (debootstrap) and register it in the store.

    The recipe is the pillar's ``jetson_recipes:<recipe>`` (or a mapping given here), with the
    other arguments overriding its keys; docs/images.md describes it. Builds are cached in
    ``/var/cache/jetson-farm`` (minion option ``jetson_build_cache``) by a hash of the recipe, so
    a machine builds each recipe once. Progress goes to the log and, as events
    ``jetson/image/build/<user>/<name>``, to the master.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_rootfs.build nfs-base
        salt site01 jetson_rootfs.build image=admin/nfs-base files='{"etc/motd": "hello\\n"}'

    recipe
        A recipe name of the pillar, or a recipe mapping.
    image
        The image it becomes, ``user/name``.
    release, arch, mirror, packages, files, salt_version
        As in the recipe: Debian release (bookworm), architecture (the site server's), Debian
        mirror (the site's apt sources), extra packages, extra files ``{relpath: text}``, the
        salt-minion version in the image (3008.3).
    force
        Build again even if the cache holds this recipe.

    Returns ``{"image", "key", "cached", "changed", "build_seconds", "size_bytes", "path",
    "comment"}``.
    """
    if isinstance(recipe, str):
        recipes = __pillar__.get("jetson_recipes") or {}
        if recipe not in recipes:
            raise SaltInvocationError(f"jetson_rootfs: no recipe {recipe!r} in pillar jetson_recipes "
                                      f"(known: {', '.join(sorted(recipes)) or 'none'})")
        data = dict(recipes[recipe])
    elif isinstance(recipe, dict) or recipe is None:
        data = dict(recipe or {})
    else:
        raise SaltInvocationError("jetson_rootfs: recipe must be a pillar recipe name or a mapping")
    given = {"image": image, "release": release, "arch": arch, "packages": packages,
             "files": files, "salt_version": salt_version, "mirror": mirror}
    data.update({key: value for key, value in given.items() if value is not None})
    store = _store()
    parsed = _call(recipe_core.parse, data, _call(chroot.host_arch))
    tag = f"jetson/image/build/{parsed.image}"

    def progress(stage, message):
        try:
            __salt__["event.send"](tag, {"image": parsed.image, "stage": stage, "message": message})
        except Exception as err:  # progress is a courtesy: a lost event must not fail a build
            log.debug("no progress event: %s", err)

    grain = __salt__["cp.cache_file"]("salt://_grains/jetson.py")
    return _call(build_core.build, store, parsed,
                 cache_dir=__opts__.get("jetson_build_cache", build_core.DEFAULT_CACHE),
                 grain_files=[grain] if grain else [], constraints=_constraints(),
                 force=bool(force), progress=progress)


def _constraints():
    """The project's constraints.txt next to the installed core, when installed from a checkout."""
    path = os.path.join(os.path.dirname(os.path.dirname(jetson_farm.__file__)), "constraints.txt")
    return path if os.path.isfile(path) else None
