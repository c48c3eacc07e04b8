"""The lab supervisor: owns the boards' processes and takes power requests on a unix socket.

One process per lab (``python -m jetson_lab.supervisor LAB_DIR``), started by ``jetson-lab up``.
It reads ``LAB_DIR/lab.json`` and listens on:

- ``LAB_DIR/supervisor.sock``: JSON-line requests from the power driver and the CLI, e.g.
  ``{"board": "jtk1", "action": "on"}`` (on, off, cycle, status), ``{"board": "jtk1", "fault":
  "no_boot"}``, ``{"action": "list"}``; answers ``{"ok": true, "result": ...}`` or
  ``{"ok": false, "error": "...", "type": "NotFound"}``.
- ``LAB_DIR/run/<board>/control.sock``: the board's own socket, used by its ``system`` module;
  it takes only ``reboot`` and ``poweroff``, for that board alone.

VM boards (``LabVMBoard``: QEMU machines booting Linux from their nfsroot) take the same
requests and answer with the same status fields (plus ``kind: vm``, ``milestones``, ``console``).

It also runs the sites' NFS servers for the lab (a private Ganesha per site on the site's
address, see jetson_lab.nfs_server), so they live exactly as long as the lab. On SIGTERM it powers
every board off (kills their processes, links down), stops Ganesha and exits.
"""

import argparse
import json
import logging
import os
import signal
import socketserver
import sys
import threading

from jetson_farm.errors import JetsonError, NotFound
from jetson_lab.board import FAULTS, LabBoard
from jetson_lab.config import SITE_MINION, LabConfig
from jetson_lab.errors import LabError
from jetson_lab.nfs_server import GaneshaServer
from jetson_lab.vm_board import LabVMBoard

log = logging.getLogger(__name__)

POWER_ACTIONS = ("on", "off", "cycle", "status")
MAX_REQUEST = 4096


class Supervisor:
    def __init__(self, config):
        self.config = config
        net = config.network
        self.boards = {
            board: LabBoard(board, index, config.nfsroot(board), net, config.nfs_port,
                            config.run_dir(board), boot_retry=config.boot_retry,
                            reboot_down=config.reboot_down, server=config.site_address(config.site_of(board)))
            for index, board in enumerate(config.boards, start=1)
        }
        for board in config.vm_boards:
            index = config.vm_index(board)
            self.boards[board] = LabVMBoard(
                board, config.nfsroot(board), config.run_dir(board), ip=net.board_addr(index),
                mac=net.mac(index), tap=net.tap(index), server=net.bridge_addr,
                netmask=str(net.network.netmask), nfs_port=config.nfs_port, cpus=config.vm_cpus,
                memory=config.vm_memory, rootdelay=config.vm_rootdelay,
                cpu_model=config.vm_cpu_model)

    def board(self, name):
        try:
            return self.boards[name]
        except (KeyError, TypeError):
            raise NotFound(f"lab board {name!r} is not in lab {self.config.name!r} "
                           f"(boards: {', '.join(self.boards)})") from None

    def handle(self, request):
        """The result of one request from the main socket; raises JetsonError subclasses."""
        if not isinstance(request, dict):
            raise LabError("a lab request must be a JSON object")
        if request.get("action") == "list":
            return [board.status() for board in self.boards.values()]
        board = self.board(request.get("board"))
        if "fault" in request:
            fault = request["fault"]
            if fault not in (*FAULTS, "clear"):
                raise LabError(f"unknown fault {fault!r}: expected one of {', '.join((*FAULTS, 'clear'))}")
            log.info("%s fault %s", board.name, fault)
            return board.set_fault(fault)
        action = request.get("action")
        if action == "on":
            return board.power_on()
        if action == "off":
            return board.power_off()
        if action == "cycle":
            return board.cycle()
        if action == "status":
            return board.status()
        raise LabError(f"unknown power action {action!r}: expected one of {', '.join(POWER_ACTIONS)}")

    def handle_control(self, board, request):
        """A request from the board itself (its ``system`` module)."""
        action = request.get("action") if isinstance(request, dict) else None
        if action == "reboot":
            return board.soft_reboot()
        if action == "poweroff":
            return board.soft_poweroff()
        raise LabError(f"a board may only ask for reboot or poweroff, not {action!r}")

    def shutdown_boards(self):
        for board in self.boards.values():
            board.faults.discard("stuck_on")
            board.power_off()


def _answer(handler, call):
    line = handler.rfile.readline(MAX_REQUEST)
    try:
        request = json.loads(line or b"null")
        reply = {"ok": True, "result": call(request)}
    except JetsonError as err:
        reply = {"ok": False, "error": str(err), "type": type(err).__name__}
    except ValueError as err:
        reply = {"ok": False, "error": f"bad request: {err}", "type": "LabError"}
    except Exception as err:  # one bad request must not kill the lab
        log.exception("request failed")
        reply = {"ok": False, "error": f"internal lab error: {err}", "type": "LabError"}
    handler.wfile.write(json.dumps(reply).encode() + b"\n")


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _listen(path, call):
    if os.path.exists(path):
        os.unlink(path)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            _answer(self, call)

    server = _Server(path, Handler)
    os.chmod(path, 0o600)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"listen-{path}").start()
    return server


def ganesha_for(config, site=SITE_MINION):
    """Site ``site``'s Ganesha (not started): the site's address, its own folder and bus."""
    return GaneshaServer(str(config.ganesha_dir_of(site)), bind_addr=config.site_address(site),
                         port=config.nfs_port)


def serve(config):
    supervisor = Supervisor(config)
    ganeshas = [ganesha_for(config, site).start() for site in config.site_names]
    servers = [_listen(config.socket_path, supervisor.handle)]
    for board in supervisor.boards.values():
        board.run_dir.mkdir(parents=True, exist_ok=True)
        servers.append(_listen(str(board.control_socket),
                               lambda request, board=board: supervisor.handle_control(board, request)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("lab %s supervisor ready on %s", config.name, config.socket_path)
    while not stop.wait(1):
        for ganesha in ganeshas:
            if ganesha.running():
                continue
            # A site server's NFS server comes back when it dies (systemd would restart it);
            # its exports come back from the exports file it includes.
            log.warning("lab %s: Ganesha at %s is gone; restarting it", config.name, ganesha.bind_addr)
            ganesha.stop()
            try:
                ganesha.start()
            except JetsonError as err:
                log.error("lab %s: Ganesha at %s does not restart: %s", config.name, ganesha.bind_addr, err)
    log.info("lab %s supervisor stopping", config.name)
    for server in servers:
        server.shutdown()
        server.server_close()
        if os.path.exists(server.server_address):
            os.unlink(server.server_address)
    supervisor.shutdown_boards()
    for ganesha in ganeshas:
        ganesha.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description="the jetson lab supervisor (started by jetson-lab up)")
    parser.add_argument("lab_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(LabConfig.read(args.lab_dir))


if __name__ == "__main__":
    main()
