"""Board power from the site server: reboot, power off/on/cycle, Wake-on-LAN, relays, IPMI.

A thin door over ``jetson_farm.power``: the board's driver comes from pillar
``jetson:boards:<board>:power`` merged over ``jetson:defaults:power`` (drivers salt, ssh, wol,
http, ipmi, lab; see docs/reference/jetson_power.md). Every call has a timeout; a failure is a
CommandExecutionError naming the board, the driver and what failed.
"""

import logging
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import batch, nfs, power
from jetson_farm.errors import InvalidName, JetsonError, Timeout
from jetson_farm.pillar import site_context
from jetson_farm.power import boot

log = logging.getLogger(__name__)

__virtualname__ = "jetson_power"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def _driver(board):
    """``(driver, inventory board)`` for ``board``, served by this minion's site."""
    if not isinstance(board, str) or not board:
        raise SaltInvocationError("board is required: the name of a board of this site")
    try:
        # __pillar__ is a loader context object, not a dict: hand the core a plain mapping.
        inventory, site = site_context({"jetson": __pillar__.get("jetson", {})}, __opts__["id"])
        entry = inventory.board(board)
        if entry.site != site.name:
            raise CommandExecutionError(
                f"board {board} belongs to site {entry.site}, not to this minion's site {site.name}")
        return power.driver_for(entry, site.root), entry
    except InvalidName as err:
        raise SaltInvocationError(str(err)) from err
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err


def _act(board, action):
    driver, _ = _driver(board)
    try:
        return power.act(driver, action)
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err


def status(board):
    """The board's power state as its driver sees it: on, off or unknown.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.status jtk1

    board
        The board's name (``jetson:boards`` in pillar).

    Returns ``{"board", "driver", "action": "status", "did": "status", "power"}``.
    """
    return _act(board, "status")


def on(board):
    """Power the board on (relay/PDU/IPMI/lab on, or a Wake-on-LAN magic packet).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.on jtk1

    board
        The board's name.

    Returns ``{"board", "driver", "action": "on", "did": "on", "power"}``.
    """
    return _act(board, "on")


def off(board):
    """Cut the board's power (hard off), where its driver can.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.off jtk1

    board
        The board's name.

    Returns ``{"board", "driver", "action": "off", "did": "off", "power"}``.
    """
    return _act(board, "off")


def cycle(board):
    """Hard power cycle: off, then on (one ``cycle`` URL/command, or off and on).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.cycle jtk1

    board
        The board's name.

    Returns ``{"board", "driver", "action": "cycle", "did": "cycle", "power"}``.
    """
    return _act(board, "cycle")


def reboot(board):
    """Stop the board softly (switch step 1): ``ssh reboot``, IPMI soft off, else a hard off.

    With driver ``salt`` this fails: the orchestration runs ``system.reboot`` on the board's
    minion itself. ``did`` says what was done: soft-reboot (ssh), soft-off (IPMI: the board stays
    off), off (http, lab: no soft path, the power is cut).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.reboot jtk1

    board
        The board's name.

    Returns ``{"board", "driver", "action": "reboot", "did", "power"}``.
    """
    return _act(board, "reboot")


def capabilities(board):
    """What the board's driver can do from this site server.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.capabilities jtk1

    board
        The board's name.

    Returns ``{"board", "driver", "actions": [...], "hard_power": bool, "reboot": kind or None,
    "minion"}``; ``reboot`` is soft-reboot, soft-off, off, orchestration or None.
    """
    driver, entry = _driver(board)
    return power.capabilities(driver, minion=entry.minion)


def ensure_down(board, timeout=None, off_timeout=None):
    """Wait until the board is down (switch step 2); past the timeout, cut its power and wait again.

    Down means no NFS session and no answer to ping (``jetson_nfs.wait_idle``). A board still up
    whose driver has no hard power is an error naming what held, and nothing is touched.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.ensure_down jtk1
        salt site01 jetson_power.ensure_down jtk1 timeout=60 off_timeout=120

    board
        The board's name.

    timeout
        Seconds to wait for the board to go down by itself; default the board's ``down_timeout``.

    off_timeout
        Seconds to wait after the hard off; default ``timeout``. An NFS server may keep a
        powered-off client's session until its lease runs out (Ganesha: 60 s by default).

    Returns ``{"board", "driver", "down": True, "escalated": bool, "did": None|"off"|"cycle",
    "powered_off": bool, "waited": seconds, "held": what kept it up before the escalation}``.
    """
    driver, entry = _driver(board)
    if timeout is None:
        timeout = entry.down_timeout
    off_timeout = timeout if off_timeout is None else off_timeout
    for name, value in (("timeout", timeout), ("off_timeout", off_timeout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise SaltInvocationError(f"{name}: {value!r} must be a positive number of seconds")

    def wait_idle(seconds):
        try:
            return __salt__["jetson_nfs.wait_idle"](board, seconds)
        except CommandExecutionError as err:
            # Only a wait that ran out may escalate; any other failure stops with nothing touched.
            if isinstance(err.__cause__, Timeout):
                raise Timeout(str(err)) from err
            raise

    try:
        return power.ensure_down(driver, wait_idle, timeout, off_timeout)
    except JetsonError as err:
        raise CommandExecutionError(str(err)) from err


# -- one job for the boards of a switch (jetson_farm/switch.py) ----------------------------------


def _each(boards, work, parallel=False):
    """``work(driver, entry)`` for each board: ``{"done": {board: report}, "failed": {board: message}}``.

    The drivers are made here, in the job's thread: the loader's dunders (``__pillar__``) are
    not there in the worker threads of a ``parallel`` batch.
    """
    if isinstance(boards, str):
        boards = [boards]
    if not isinstance(boards, list | tuple) or not boards or not all(isinstance(b, str) for b in boards):
        raise SaltInvocationError("boards must be a non-empty list of board names of this site")
    errors = (JetsonError, CommandExecutionError, SaltInvocationError)
    made = batch.each(boards, _driver, errors=errors)
    report = batch.each(made["done"], lambda board: work(*made["done"][board]), parallel=parallel,
                        errors=errors)
    report["failed"].update(made["failed"])
    return report


def stop_many(boards):
    """Stop several boards in one job (switch step 1): each driver's ``reboot``.

    A driver that cannot stop its board (wol) says so, and step 2 waits for the board to go
    down. Boards of driver ``salt`` are rebooted by the orchestration, not here.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.stop_many '["jtk1", "jtk2"]'

    boards
        A list of board names of this site.

    Returns ``{"done": {board: {"stop", "power"}}, "failed": {board: message}}``.
    """
    return _each(boards, lambda driver, entry: boot.stop(driver))


def ensure_down_many(boards, timeout=None):
    """Wait until several boards are down (switch step 2), then end their stale NFS sessions.

    A board is down when its power driver reports it off, or when it answers no ping (probed
    every 0.1 s). Past ``timeout`` (default each board's ``down_timeout``) its power is cut
    where the driver can; a board that stays up fails alone, with nothing touched. Once down,
    the board's lingering TCP connections to the NFS server are ended (as ``jetson_nfs.end_sessions``).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.ensure_down_many '["jtk1", "jtk2"]'

    boards
        A list of board names of this site.
    timeout
        Seconds to wait for each board before the hard off, and again after it.

    Returns ``{"done": {board: {"down", "seen", "escalated", "did", "powered_off", "waited",
    "held", "sessions_ended"}}, "failed": {board: message}}``.
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or timeout <= 0):
        raise SaltInvocationError(f"timeout: {timeout!r} must be a positive number of seconds")

    def down(driver, entry):
        seen = []

        def wait(seconds):
            seen.append(boot.wait_down(driver, entry.ip, seconds))

        seconds = entry.down_timeout if timeout is None else timeout
        report = power.ensure_down(driver, wait, seconds, seconds)
        return dict(report, seen=seen[-1], sessions_ended=nfs.end_sessions(entry.ip))

    return _each(boards, down, parallel=True)


def power_many(boards):
    """Several boards' power as their drivers see it, in one job (switch step 7 watches it: a
    board that goes off while it boots has failed to boot).

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.power_many '["jtk1", "jtk2"]'

    boards
        A list of board names of this site.

    Returns ``{"done": {board: {"power": "on"|"off"|"unknown"}}, "failed": {board: message}}``.
    """
    return _each(boards, lambda driver, entry: {"power": boot.power_word(driver)})


def start_many(boards, parked=False, stagger=0):
    """Power several boards on for their boot (switch step 6), or off when they are parked.

    A board that is off is powered on; one that is on (it restarted while unexported) is
    power cycled where the driver can; a parked board is powered off where it can.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_power.start_many '["jtk1", "jtk2"]'
        salt site01 jetson_power.start_many '["jtk3"]' parked=True

    boards
        A list of board names of this site.
    parked
        ``True``: the boards have no image; power them off instead.
    stagger
        Seconds between two boards' power-on, to spread their boot over time (default 0).

    Returns ``{"done": {board: {"start", "power"}}, "failed": {board: message}}``.
    """
    if isinstance(stagger, bool) or not isinstance(stagger, int | float) or stagger < 0:
        raise SaltInvocationError(f"stagger: {stagger!r} must be a number of seconds >= 0")
    first = []

    def start(driver, entry):
        if first and stagger and not parked:
            time.sleep(stagger)
        first.append(entry.name)
        return boot.start(driver, bool(parked))

    return _each(boards, start)
