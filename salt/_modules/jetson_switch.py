"""Execution module ``jetson_switch``: what the switch orchestration needs on a site server.

Today one function, ``store_identity``, used by ``salt-run jetson.enroll``.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm.errors import JetsonError
from jetson_farm.pillar import site_context
from jetson_farm.runner.identity_store import store_identity as store_identity_core

__virtualname__ = "jetson_switch"


def __virtual__():
    return __virtualname__


def store_identity(board, pub, priv):
    """
    Store a board's minion key pair in ``<root>/boards/<board>/identity/`` (minion.pem 0600).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_switch.store_identity jtk1 "$(cat minion.pub)" "$(cat minion.pem)"

    board
        The board, as in pillar ``jetson:boards``; it must be served by this site.
    pub
        The PEM public key.
    priv
        The PEM private key.
    """
    if not board or not pub or not priv:
        raise SaltInvocationError("board, pub and priv are required")
    try:
        inventory, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        if inventory.board(board).site != site.name:
            raise SaltInvocationError(f"board {board} is not served by site {site.name}")
        return store_identity_core(site.root, board, pub, priv)
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err
