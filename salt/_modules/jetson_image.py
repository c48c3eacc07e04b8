"""Self-service images, for the user an admin names: what ``jetson-image`` does on this site server.

A thin door over :class:`jetson_farm.selfservice.images.SelfService` on this minion's store (pillar
``jetson``): the same names, quota and refusals as the users' own command (docs/user-guide.md,
"Your images"). The runner ``jetson.image`` calls it on the right site server. See
docs/reference/jetson_image.md.
"""

import logging
import os

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import batch
from jetson_farm.errors import InvalidName, JetsonError
from jetson_farm.rootfs import RootfsSite, templates
from jetson_farm.selfservice.caller import ROOT, open_as
from jetson_farm.selfservice.images import SelfService

log = logging.getLogger(__name__)

__virtualname__ = "jetson_image"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)
__func_alias__ = {"list_": "list", "import_": "import"}


def __virtual__():
    return __virtualname__


def _call(user, method, *args, **kwargs):
    try:
        if not isinstance(user, str) or not user:
            raise SaltInvocationError("jetson_image: user is required")
        site = RootfsSite.from_pillar({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        return method(SelfService(site, user), *args, **kwargs)
    except InvalidName as err:
        raise SaltInvocationError(f"jetson_image: {err}") from err
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_image: {err}") from err


def list_(user=None):
    """The user's images and the shared images they may clone.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.list alice

    user
        The user, as in pillar ``jetson:users``.

    Returns ``{"user", "images": [{image, name, where, board}], "shared": [...]}``.
    """
    return _call(user, SelfService.list)


def usage(user=None):
    """The user's disk usage and quota.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.usage alice

    user
        The user.

    Returns ``{"user", "bytes", "images", "quota_gb", "quota_bytes", "over_quota", "free_bytes"}``.
    """
    return _call(user, SelfService.usage)


def import_(user=None, name=None, source=None, dry_run=False):
    """Import a rootfs tarball on the site server as the user's new image, within their quota.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.import alice l4t /srv/upload/alice/rootfs.tbz2

    user
        The owner of the new image.
    name
        The image's name (``name`` or ``user/name``).
    source
        Path of the tarball on the site server (read as root: an admin's choice).
    dry_run
        Check the name and the quota, write nothing.

    Returns ``{"image", "source", "bytes", "members", "comment", ...}``.
    """
    if not isinstance(source, str) or not source:
        raise SaltInvocationError("jetson_image: source is required")

    def run(service):
        fd = open_as(ROOT, source)
        try:
            return service.import_tarball(name, fd, source, dry_run=bool(dry_run))
        finally:
            os.close(fd)

    return _call(user, run)


def clone(user=None, src=None, name=None, dry_run=False):
    """Copy the user's image or one shared with them to their new image, within their quota.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.clone alice admin/l4t-base base

    user
        The owner of the new image.
    src
        The user's image, or a shared one as ``user/name``.
    name
        The new image's name.
    dry_run
        Check, write nothing.

    Returns ``{"image", "source", "bytes", "comment", ...}``.
    """
    return _call(user, SelfService.clone, src, name, dry_run=bool(dry_run))


def remove(user=None, name=None, dry_run=False):
    """Delete one of the user's images; refused while it is booted, in a switch or booked.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.remove alice old-test

    user
        The owner.
    name
        The image's name.
    dry_run
        Check, remove nothing.

    Returns ``{"image", "removed", "dry_run", "comment"}``.
    """
    return _call(user, SelfService.remove, name, dry_run=bool(dry_run))


def working_copies(copies=None):
    """Make each user's working copy of a shared image (a template), or find it made: what a
    switch of a template does before it touches the board, and what the calendar bridge does
    ahead of a booked slot (docs/architecture.md, "The site server"). A copy that exists is used
    as is; a new one is a reflink clone where the file system can, else a full copy, checked
    against the user's quota first. Progress: events ``jetson/image/copy/<user>/<name>``
    (``done_bytes``, ``total_bytes``, ``percent``, and the ``board`` when given).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.working_copies '[{"template": "admin/l4t-base", "user": "alice", \
            "board": "jtk3"}]'

    copies
        A list of ``{"template", "user"}`` (and optionally the ``board`` it is for): the shared
        image and the user who boots it. Each copy fails alone.

    Returns ``{"done": {"<user>/<name>": {"image", "template", "made", "method", "bytes",
    "seconds", "comment"}}, "failed": {"<user>/<name>": message}}``.
    """
    if not isinstance(copies, list) or not copies or not all(
            isinstance(item, dict) and all(isinstance(item.get(key), str) and item.get(key)
                                           for key in ("template", "user"))
            for item in copies):
        raise SaltInvocationError("jetson_image: copies must be a non-empty list of {template, user}")
    try:
        site = RootfsSite.from_pillar({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_image: {err}") from err
    wanted = {f"{item['user']}/{item['template'].rsplit('/', 1)[-1]}": item for item in copies}

    def make(copy):
        item = wanted[copy]
        tag = f"jetson/image/copy/{copy}"

        def report(done, total):
            try:
                __salt__["event.send"](tag, {"image": copy, "board": item.get("board"),
                                             "template": item["template"], "user": item["user"],
                                             "done_bytes": done, "total_bytes": total,
                                             "percent": round(100 * done / total, 1) if total else 100.0})
            except Exception as err:  # progress is a courtesy: a lost event must not fail a copy
                log.debug("no progress event: %s", err)

        return templates.ensure_copy(site, item["template"], item["user"], report=report)

    return batch.each(wanted, make)


def catalog():
    """Every image of this site with what it is: a ``template`` (shared in pillar), a user's
    ``working copy`` of one (with the template it was cloned from), a ``copy`` of another image,
    or an ``image``.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_image.catalog

    Returns ``[{"image", "where", "board", "kind", "template", "method", "made"}]``.
    """
    try:
        site = RootfsSite.from_pillar({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        return [{"image": item["image"], "where": item["where"], "board": item["board"],
                 **{"method": None, "made": None}, **templates.describe(site, item)}
                for item in site.list_images()]
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_image: {err}") from err
