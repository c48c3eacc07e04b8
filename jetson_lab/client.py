"""The client side of the lab supervisor's socket, used by the ``lab`` power driver.

::

    power(socket_path, "jtk1", "cycle")  -> {"board": "jtk1", "power": "on", "minion": ..., ...}
    fault(socket_path, "jtk1", "no_boot") -> the board's status, with "faults": ["no_boot"]

Errors are JetsonError subclasses: LabUnavailable (no supervisor there), NotFound (unknown
board), LabError (anything else the supervisor refused), each with a message naming the board.
"""

import json
import socket

from jetson_farm import errors
from jetson_lab.errors import LabError, LabUnavailable

POWER_ACTIONS = ("on", "off", "cycle", "status")
FAULT_NAMES = ("ignore_reboot", "stuck_on", "no_boot", "clear")
_ERROR_TYPES = {"NotFound": errors.NotFound, "LabUnavailable": LabUnavailable}


def request(socket_path, payload, timeout=10):
    """Send one JSON request to the supervisor at ``socket_path``; its ``result``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            line = sock.makefile("rb").readline()
    except FileNotFoundError:
        raise LabUnavailable(f"no lab supervisor at {socket_path}: the socket does not exist "
                             "(is the lab up?)") from None
    except ConnectionRefusedError:
        raise LabUnavailable(f"no lab supervisor at {socket_path}: connection refused "
                             "(is the lab up?)") from None
    except TimeoutError:
        raise LabUnavailable(f"lab supervisor at {socket_path} did not answer in {timeout}s") from None
    except OSError as err:
        raise LabUnavailable(f"lab supervisor at {socket_path}: {err}") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise LabError(f"lab supervisor at {socket_path} sent no valid answer") from None
    if not reply.get("ok"):
        raise _ERROR_TYPES.get(reply.get("type"), LabError)(reply.get("error", "unknown lab error"))
    return reply["result"]


def power(socket_path, board, action, timeout=10):
    """Power ``action`` (on, off, cycle, status) on lab board ``board``; the board's status dict.

    The dict has at least ``board``, ``power`` ("on"/"off"), ``minion`` (off, booting,
    boot_failed, running), ``ip``, ``boot_error`` and ``faults``; ``ignored`` names the fault
    that made the board ignore the request (``stuck_on``).
    """
    if action not in POWER_ACTIONS:
        raise LabError(f"unknown power action {action!r} for lab board {board!r}: "
                       f"expected one of {', '.join(POWER_ACTIONS)}")
    return request(socket_path, {"board": board, "action": action}, timeout=timeout)


def fault(socket_path, board, name, timeout=10):
    """Inject fault ``name`` into lab board ``board`` (or ``clear`` them all); its status dict.

    ignore_reboot: ``system.reboot`` on the board does nothing. stuck_on: also hard off and
    cycle do nothing, the board never goes down. no_boot: power-on never starts the minion.
    """
    if name not in FAULT_NAMES:
        raise LabError(f"unknown fault {name!r} for lab board {board!r}: "
                       f"expected one of {', '.join(FAULT_NAMES)}")
    return request(socket_path, {"board": board, "fault": name}, timeout=timeout)


def boards(socket_path, timeout=10):
    """The status dict of every board of the lab."""
    return request(socket_path, {"action": "list"}, timeout=timeout)
