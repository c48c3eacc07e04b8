"""Shared images are templates: a user booting one boots their own working copy of it.

docs/architecture.md, "The site server": an image shared in pillar (``images.<ref>.shared``) is
a template. A user other than its owner who boots it gets ``<user>/<name>``: their own image if
they have one of that name (used as is), else a clone of the template made first, against
their quota (``SelfService.clone``: a reflink where the file system can, else a full copy). The
master works out the copy's name (:func:`copy_for`); the site makes it (:func:`ensure_copy`),
before anything touches a board, so the switch never waits for a copy.
"""

import logging

from jetson_farm.errors import JetsonError, Refused
from jetson_farm.names import image_ref, parse_image
from jetson_farm.rootfs import clone, fsutil

log = logging.getLogger(__name__)


def is_template(inventory, image):
    """Whether pillar shares ``image`` with anyone (``shared: true`` or a list of users)."""
    return bool((inventory.images.get(image) or {}).get("shared"))


def copy_for(inventory, user, image):
    """The working copy ``user/<name>`` that ``user`` boots for the template ``image``, or None
    when ``image`` is not a template or is ``user``'s own (the owner boots the template itself)."""
    owner, name = parse_image(image)
    if owner == user or not is_template(inventory, image):
        return None
    return image_ref(user, name)


def exists(site, image):
    """Whether ``image`` is in its slot or at a board's nfsroot."""
    return fsutil.exists(site.layout.image_path(image)) or image in site.placements()


def ensure_copy(site, template, user, report=None):
    """``user``'s working copy of ``template``: used as is if it exists, else cloned now (quota
    checked first). ``{image, template, made, method, bytes, seconds, comment}``."""
    # Imported here: the self-service layer sits on top of the store.
    from jetson_farm.selfservice.images import SelfService

    copy = copy_for(site.inventory, user, template)
    if copy is None:
        raise Refused(f"{template} is not a template for {user}: not shared, or {user} owns it")
    service = SelfService(site, user)
    service.source(template)  # rule 3: NotAllowed unless the template is shared with the user
    if exists(site, copy):
        return _as_is(site, copy, template)
    try:
        made = service.clone(template, parse_image(copy)[1], report=report)
    except JetsonError:
        if exists(site, copy):  # another run made it meanwhile
            return _as_is(site, copy, template)
        raise
    return {"image": copy, "template": template, "made": True, "method": made["method"],
            "bytes": made["bytes"], "seconds": made["seconds"],
            "comment": f"made {copy}, a {made['method']} of the template {template}"}


def _as_is(site, copy, template):
    record = clone.origin(site, copy, _where(site, copy))
    kind = f"a copy of {record['template']}" if record else "not a copy of it"
    return {"image": copy, "template": template, "made": False, "method": None, "bytes": None,
            "seconds": 0.0, "comment": f"{copy} exists ({kind}): used as is"}


def _where(site, image):
    board = site.placements().get(image)
    return site.board(board).nfsroot if board else site.layout.image_path(image)


def describe(site, item):
    """What the store knows of one listed image (``store.list_images`` item): ``kind``
    (``template``; ``working copy`` of a template, or ``copy`` of another image; else ``image``)
    and ``template`` (what a copy was cloned from)."""
    record = clone.origin(site, item["image"], item["path"])
    if is_template(site.inventory, item["image"]):
        return {"kind": "template", "template": None}
    if record is not None:
        kind = "working copy" if is_template(site.inventory, record["template"]) else "copy"
        return {"kind": kind, "template": record["template"], "method": record["method"],
                "made": record["made"]}
    return {"kind": "image", "template": None}
