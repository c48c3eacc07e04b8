"""Execution module ``jetson_switch``: what the switch orchestration needs on a site server.

``ensure_identity`` (for ``salt-run jetson.enroll``) and ``versions`` (for ``salt-run jetson.check``).
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import versions as versions_core
from jetson_farm.errors import JetsonError
from jetson_farm.pillar import site_context
from jetson_farm.runner.identity_store import ensure_identity as ensure_identity_core

__virtualname__ = "jetson_switch"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def ensure_identity(board, renew=False):
    """
    Make the board's minion key pair in ``<root>/boards/<board>/identity/`` if it has none, and
    return its public key. The private key (minion.pem, 0600) never leaves this server.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.ensure_identity jtk1
        salt site01 jetson_switch.ensure_identity jtk1 renew=True

    board
        The board, as in pillar ``jetson:boards``; it must be served by this site.
    renew
        Replace an existing pair with a new one (default: keep it).
    """
    if not board or not isinstance(board, str):
        raise SaltInvocationError("board is required")
    if not isinstance(renew, bool):
        raise SaltInvocationError(f"renew must be True or False, not {renew!r}")
    try:
        inventory, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        if inventory.board(board).site != site.name:
            raise SaltInvocationError(f"board {board} is not served by site {site.name}")
        return ensure_identity_core(site.root, board, renew=renew)
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
