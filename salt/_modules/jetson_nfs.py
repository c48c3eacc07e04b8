"""Export boards' nfsroots over NFS on a site server (kernel exportfs or NFS-Ganesha).

The backend is the site's ``jetson:sites:<site>:nfs:backend`` pillar value; the site is the one
whose ``minion`` is this minion. Every function is idempotent and reports what it changed.
The work is done by :mod:`jetson_farm.nfs`; this module is its Salt door.
"""

import ipaddress
import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import nfs
from jetson_farm.errors import InvalidName, JetsonError, NotFound
from jetson_farm.pillar import site_context

log = logging.getLogger(__name__)

__virtualname__ = "jetson_nfs"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def _site():
    try:
        return site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_nfs: {err}") from err


def _backend(site):
    try:
        return nfs.backend_for(site.nfs)
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_nfs: {err}") from err


def _board(inventory, site, name):
    try:
        board = inventory.board(name)
    except (InvalidName, NotFound) as err:
        raise SaltInvocationError(f"jetson_nfs: {err}") from err
    if board.site != site.name:
        raise SaltInvocationError(
            f"jetson_nfs: board {name!r} is served by site {board.site!r}, not by this minion's "
            f"site {site.name!r}")
    return board


def _call(method, *args):
    try:
        return method(*args)
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_nfs: {err}") from err


def exports():
    """List every export this site's NFS server has, and whether the pillar knows it.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.exports

    Returns a list of ``{"board", "path", "clients", "options", "active", "configured", "known",
    "current"}`` (ganesha: also ``export_id``), one per exported path: ``active`` when the NFS
    server serves it now, ``configured`` when the farm's exports file (kernel) or Ganesha file
    holds it, ``known`` when it is the nfsroot of a board of this site in the pillar, ``current``
    when it is exported exactly as ``export`` makes it (to that board's ip only). An export the
    pillar does not know names, as ``board``, the board of its line in the farm's file (a retired
    board, a moved nfsroot), or None when the farm did not make it.
    """
    inventory, site = _site()
    return _call(_backend(site).exports, inventory.boards_of_site(site.name))


def export(board, test=False):
    """Export a board's nfsroot to the board's own ip only, live and in the farm's file.

    Whatever else the path is exported to (another client, a stale export id) is withdrawn.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.export jtk1
        salt site01 jetson_nfs.export jtk1 test=True

    board
        The board's name in the ``jetson`` pillar; it must belong to this minion's site.
    test
        Change nothing; ``changes`` says what would change.

    Returns ``{"board", "path", "changed", "changes", "warnings"}``; ``changes`` is empty when
    the export was already in place.
    """
    inventory, site = _site()
    return _call(_backend(site).export, _board(inventory, site, board), bool(test)).as_dict()


def unexport(board, test=False):
    """Withdraw a board's nfsroot from every client, live and from the farm's file.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.unexport jtk1
        salt site01 jetson_nfs.unexport jtk1 test=True

    board
        The board's name in the ``jetson`` pillar; it must belong to this minion's site.
    test
        Change nothing; ``changes`` says what would change.

    Returns ``{"board", "path", "changed", "changes", "warnings"}``.
    """
    inventory, site = _site()
    return _call(_backend(site).unexport, _board(inventory, site, board), bool(test)).as_dict()


def _boards(inventory, site, boards):
    if isinstance(boards, str):
        boards = [boards]
    if not isinstance(boards, list | tuple) or not boards:
        raise SaltInvocationError("jetson_nfs: boards must be a non-empty list of board names")
    return [_board(inventory, site, name) for name in boards]


def export_many(boards):
    """Export the nfsroots of several boards in one job, under one lock of the farm's file.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.export_many '["jtk1", "jtk2"]'

    boards
        A list of board names of this minion's site.

    Returns ``{"done": {board: <what export returns>}, "failed": {board: message}}``: one
    board's failure does not stop the others.
    """
    inventory, site = _site()
    return _call(_backend(site).export_many, _boards(inventory, site, boards))


def unexport_many(boards):
    """Withdraw the nfsroots of several boards in one job, under one lock of the farm's file.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.unexport_many '["jtk1", "jtk2"]'

    boards
        A list of board names of this minion's site.

    Returns ``{"done": {board: <what unexport returns>}, "failed": {board: message}}``.
    """
    inventory, site = _site()
    return _call(_backend(site).unexport_many, _boards(inventory, site, boards))


def end_sessions(board):
    """End a board's TCP connections to the NFS server (``ss -K``): what a hard-off board left.

    The switch runs it once the board is down (step 2). After a hard power-off the server's
    side of the connection lingers for minutes; ending it frees the board's NFS state at once.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.end_sessions jtk1

    board
        The board's name in the ``jetson`` pillar; it must belong to this minion's site.

    Returns ``{"board", "ip", "ended": ["ip:port", ...]}``.
    """
    inventory, site = _site()
    target = _board(inventory, site, board)
    return {"board": target.name, "ip": target.ip, "ended": _call(nfs.end_sessions, target.ip)}


def is_exported(board):
    """Tell whether the NFS server serves the board's nfsroot now (to any client).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.is_exported jtk1

    board
        The board's name in the ``jetson`` pillar; it must belong to this minion's site.
    """
    inventory, site = _site()
    return _call(_backend(site).is_exported, _board(inventory, site, board))


def clients(board=None, ip=None):
    """List who holds an NFS session: all clients, a board's, or one address's.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.clients
        salt site01 jetson_nfs.clients board=jtk1
        salt site01 jetson_nfs.clients ip=192.168.137.131

    board
        Only the sessions from this board's IP (a board of this minion's site).
    ip
        Only the sessions from this IPv4/IPv6 address.

    Returns a list of ``{"ip", "via"}`` (``via``: ``tcp``, ``nfsd`` or ``ganesha``; TCP entries
    carry the client's ``port`` too).
    """
    inventory, site = _site()
    if board is not None and ip is not None:
        raise SaltInvocationError("jetson_nfs.clients: give board or ip, not both")
    if board is not None:
        ip = _board(inventory, site, board).ip
    elif ip is not None:
        try:
            ip = str(ipaddress.ip_address(str(ip)))
        except ValueError:
            raise SaltInvocationError(f"jetson_nfs.clients: {ip!r} is not an IP address") from None
    return _call(_backend(site).sessions, ip)


def wait_idle(board, timeout=None):
    """Wait until a board holds no NFS session and answers no ping.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.wait_idle jtk1 timeout=120

    board
        The board's name in the ``jetson`` pillar; it must belong to this minion's site.
    timeout
        Seconds to wait (default: the board's ``down_timeout``). Past it, the call fails and
        names what still held: the NFS session, the ping answer, or both.

    Returns ``{"board", "ip", "idle": True, "waited"}``.
    """
    inventory, site = _site()
    target = _board(inventory, site, board)
    if timeout is None:
        timeout = target.down_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise SaltInvocationError(f"jetson_nfs.wait_idle: timeout {timeout!r} must be a number >= 0")
    return _call(nfs.wait_idle, _backend(site), target, timeout)


def reload():
    """Reload the NFS server's exports from the farm's file.

    Kernel backend: ``exportfs -ra`` (reads /etc/exports and /etc/exports.d/*.exports).
    Ganesha backend: AddExport/UpdateExport of every block of the farm's Ganesha file.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_nfs.reload

    Returns ``{"reloaded": True, "warnings": [...]}`` (Ganesha: also ``boards``).
    """
    _, site = _site()
    return _call(_backend(site).reload)
