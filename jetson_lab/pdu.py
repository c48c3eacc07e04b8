"""A virtual PDU: a small HTTP server with outlets that keep an on/off state.

The ``http`` power driver talks to it exactly as to a relay board or a smart plug::

    GET|POST /outlet/<n>/on      -> {"outlet": "<n>", "power": "on"}
    GET|POST /outlet/<n>/off     -> {"outlet": "<n>", "power": "off"}
    GET|POST /outlet/<n>/cycle   -> off, a short pause, on
    GET      /outlet/<n>/status  -> {"outlet": "<n>", "power": "on"|"off"}

``VirtualPdu(outlets=("1",), host="127.0.0.1", port=0, on_change=None)``: ``start()`` /
``stop()`` (also a context manager), ``url(outlet, action)``, ``power(outlet)``, ``requests``
(every ``(method, path)`` received, in order). ``on_change(outlet, power)`` is called on every
state change, so a test can make a board stand-in follow its outlet. ``fault`` makes the PDU
misbehave like a broken one (``set_fault``): ``"error"`` (every answer is 500), ``"hang"`` (no answer until
``stop()``), None (healthy).

``python -m jetson_lab.pdu --port 8080 --outlets 1 2 3`` runs one in the foreground.
"""

import argparse
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

PATH_RE = re.compile(r"^/outlet/([A-Za-z0-9_-]{1,32})/(on|off|cycle|status)$")
FAULTS = (None, "error", "hang")


class VirtualPdu:
    def __init__(self, outlets=("1",), host="127.0.0.1", port=0, on_change=None, cycle_pause=0.1,
                 initial="on"):
        self._states = {str(outlet): initial for outlet in outlets}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.on_change = on_change
        self.cycle_pause = cycle_pause
        self.fault = None
        self.requests = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = None

    @property
    def address(self):
        host, port = self._server.server_address[:2]
        return host, port

    def url(self, outlet, action):
        host, port = self.address
        return f"http://{host}:{port}/outlet/{outlet}/{action}"

    def set_fault(self, fault):
        if fault not in FAULTS:
            raise ValueError(f"unknown PDU fault {fault!r}: one of {FAULTS}")
        self.fault = fault

    def power(self, outlet):
        with self._lock:
            return self._states[str(outlet)]

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="virtual-pdu", daemon=True)
        self._thread.start()
        log.info("virtual PDU listening on %s:%s", *self.address)
        return self

    def stop(self):
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _set(self, outlet, power):
        with self._lock:
            changed = self._states[outlet] != power
            self._states[outlet] = power
        if changed and self.on_change is not None:
            self.on_change(outlet, power)

    def _apply(self, outlet, action):
        if action == "cycle":
            self._set(outlet, "off")
            time.sleep(self.cycle_pause)
            self._set(outlet, "on")
        elif action in ("on", "off"):
            self._set(outlet, action)
        return {"outlet": outlet, "power": self.power(outlet)}

    def _handler_class(self):
        pdu = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self):
                pdu.requests.append((self.command, self.path))
                if pdu.fault == "hang":
                    pdu._stopping.wait(timeout=300)
                    return
                if pdu.fault == "error":
                    self._answer(500, {"error": "relay controller fault"})
                    return
                match = PATH_RE.match(self.path)
                if not match or match.group(1) not in pdu._states:
                    self._answer(404, {"error": f"no such outlet or action: {self.path}"})
                    return
                outlet, action = match.groups()
                self._answer(200, pdu._apply(outlet, action))

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format, *args):
                log.debug("virtual PDU: " + format, *args)

        return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run a virtual HTTP PDU in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--outlets", nargs="+", default=["1"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    pdu = VirtualPdu(args.outlets, host=args.host, port=args.port).start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pdu.stop()


if __name__ == "__main__":
    main()
