"""Execution module ``jetson_switch``: what the switch orchestration needs on a site server.

``ensure_identity`` and ``ensure_identity_many`` (for ``salt-run jetson.enroll``),
``take_enrolment`` (for ``jetson.enroll_site``) and ``versions`` (for ``salt-run jetson.check``).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import batch
from jetson_farm import versions as versions_core
from jetson_farm.errors import JetsonError
from jetson_farm.layout import SiteLayout
from jetson_farm.pillar import site_context
from jetson_farm.rootfs import enrolment
from jetson_farm.runner.identity_store import ensure_identity as ensure_identity_core

__virtualname__ = "jetson_switch"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def ensure_identity(board, renew=False):
    """
    Make the board's minion key pair in ``<root>/boards/<board>/identity/`` if it has none, and
    the SSH host keys (ed25519, ecdsa, rsa) it lacks; return the minion's public key. The
    private keys (0600) never leave this server.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.ensure_identity jtk1
        salt site01 jetson_switch.ensure_identity jtk1 renew=True

    board
        The board, as in pillar ``jetson:boards``; it must be served by this site.
    renew
        Replace an existing pair and the host keys with new ones (default: keep them).
    """
    if not board or not isinstance(board, str):
        raise SaltInvocationError("board is required")
    root = _site_root([board], renew)
    try:
        return ensure_identity_core(root, board, renew=renew)
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err


def ensure_identity_many(boards, renew=False):
    """
    ``ensure_identity`` for several boards of this site in one job (``jetson.enroll boards=...``).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.ensure_identity_many '["jtk1", "jtk2"]'

    boards
        A list of board names, each served by this site; else nothing is made.
    renew
        Replace existing pairs with new ones (default: keep them).

    Returns ``{"done": {board: <what ensure_identity returns>}, "failed": {board: message}}``:
    one board's failure (e.g. a symlinked identity folder) does not stop the others.
    """
    if not isinstance(boards, list) or not boards or not all(isinstance(b, str) and b for b in boards):
        raise SaltInvocationError(f"boards must be a non-empty list of board names, not {boards!r}")
    root = _site_root(boards, renew)
    # Threads: RSA key generation releases the GIL, so the site's cores make the pairs side by side.
    return batch.each(boards, lambda board: ensure_identity_core(root, board, renew=renew), parallel=True)


def _site_root(boards, renew):
    """This site's root, once every board is known to be one of its own."""
    if not isinstance(renew, bool):
        raise SaltInvocationError(f"renew must be True or False, not {renew!r}")
    try:
        inventory, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        for board in boards:
            if inventory.board(board).site != site.name:
                raise SaltInvocationError(f"board {board} is not served by site {site.name}")
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err
    return site.root


def take_enrolment():
    """
    The boards this site's state asked the master to enroll (its pending-enrolment record,
    written by ``state.apply jetson.site`` before it fires ``jetson/site/enroll``), and remove
    the record: each request is answered once. ``[]`` when the site asked for nothing.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.take_enrolment
    """
    try:
        _, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        return enrolment.take(SiteLayout(site.root))
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err


def versions():
    """
    The installed jetson-farm core's version, and each copy of the farm's modules synced into
    this minion's ``extension_modules`` with its own (``salt-run jetson.check`` compares them).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.versions
    """
    return versions_core.report(__opts__["id"], __opts__.get("extension_modules"))
