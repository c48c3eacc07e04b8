"""A minimal QMP client: one command per connection on a QEMU's unix socket, with a timeout.

``command(socket_path, "query-status")`` -> the ``return`` dict, or :class:`QmpError`.
"""

import json
import socket

from jetson_lab.errors import LabError

TIMEOUT = 5.0


class QmpError(LabError):
    """The QEMU did not answer on its QMP socket, or refused the command."""


def _read_message(stream):
    """The next message that is not an asynchronous event."""
    while True:
        line = stream.readline()
        if not line:
            raise QmpError("QMP connection closed")
        message = json.loads(line)
        if "event" not in message:
            return message


def command(socket_path, name, arguments=None, timeout=TIMEOUT):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            stream = sock.makefile("rw", encoding="utf-8", newline="\n")
            _read_message(stream)  # the greeting
            for request in ({"execute": "qmp_capabilities"},
                            {"execute": name, **({"arguments": arguments} if arguments else {})}):
                stream.write(json.dumps(request) + "\n")
                stream.flush()
                reply = _read_message(stream)
                if "error" in reply:
                    raise QmpError(f"QMP {request['execute']}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")
    except (OSError, ValueError) as err:
        raise QmpError(f"QMP {name} on {socket_path}: {err}") from None
