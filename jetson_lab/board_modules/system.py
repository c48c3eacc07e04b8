"""The ``system`` module of a lab board: power requests go to the lab supervisor, not the host.

A lab board is a salt-minion process on the lab host, so Salt's own ``system.reboot`` would
reboot the host. This module, copied into the board's runtime dir and loaded through
``module_dirs``, replaces it: reboot/poweroff/halt/shutdown ask the lab supervisor (over the
board's own control socket, which accepts requests for this board only) to reset or power off
this board, as the real command would on a real board.
"""

import json
import socket

from salt.exceptions import CommandExecutionError

__virtualname__ = "system"

CONTROL_TIMEOUT = 10


def __virtual__():
    if __opts__.get("lab_control_socket"):  # noqa: F821 - injected by the Salt loader
        return __virtualname__
    return (False, "not a jetson lab board: no lab_control_socket in the minion config")


def _ask_lab(action):
    path = __opts__["lab_control_socket"]  # noqa: F821 - injected by the Salt loader
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONTROL_TIMEOUT)
            sock.connect(path)
            sock.sendall(json.dumps({"action": action}).encode() + b"\n")
            reply = json.loads(sock.makefile("rb").readline() or b"{}")
    except (OSError, ValueError) as err:
        raise CommandExecutionError(f"lab supervisor at {path} did not take {action}: {err}") from err
    if not reply.get("ok"):
        raise CommandExecutionError(f"lab supervisor refused {action}: {reply.get('error')}")
    return reply.get("result", {})


def reboot(at_time=None, **kwargs):
    """Reset this lab board through the lab supervisor (goes down, then boots again).

    CLI Example:

    .. code-block:: bash

        salt jtk1 system.reboot

    at_time
        Ignored: a lab board reboots at once (accepted for compatibility with Salt's module).
    """
    return _ask_lab("reboot")


def poweroff(at_time=None, **kwargs):
    """Power this lab board off through the lab supervisor (it stays off).

    CLI Example:

    .. code-block:: bash

        salt jtk1 system.poweroff

    at_time
        Ignored: a lab board powers off at once.
    """
    return _ask_lab("poweroff")


def halt(at_time=None, **kwargs):
    """Same as ``system.poweroff`` on a lab board.

    CLI Example:

    .. code-block:: bash

        salt jtk1 system.halt

    at_time
        Ignored.
    """
    return _ask_lab("poweroff")


def shutdown(at_time=None, **kwargs):
    """Same as ``system.poweroff`` on a lab board.

    CLI Example:

    .. code-block:: bash

        salt jtk1 system.shutdown

    at_time
        Ignored.
    """
    return _ask_lab("poweroff")
