"""``jetson-lab``: a whole local farm of virtual boards (see jetson_lab.farm).

::

    jetson-lab up [--name demo | --dir DIR] [--boards N] [--vm-boards N] [--sites N] [--vms-off]
                  [--no-wait]
    jetson-lab status [--name demo | --dir DIR] [--json]
    jetson-lab down [--name demo | --dir DIR] [--purge]
    jetson-lab power BOARD on|off|cycle|status [--name demo | --dir DIR]
    jetson-lab fault BOARD ignore_reboot|stuck_on|no_boot|clear [--name demo | --dir DIR]

The lab's folder is ``--dir``, else /var/lib/jetson-lab/<name>.
"""

import argparse
import json
import logging
import sys

from jetson_farm.errors import JetsonError
from jetson_lab import client, farm
from jetson_lab.config import LabConfig

log = logging.getLogger(__name__)


def _parser():
    parser = argparse.ArgumentParser(prog="jetson-lab", description="virtual Jetson boards and a local farm")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, help_text):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--name", default="demo", help="lab name (folder /var/lib/jetson-lab/NAME)")
        cmd.add_argument("--dir", help="lab folder (overrides --name)")
        return cmd

    cmd = add("up", "start the lab (idempotent)")
    cmd.add_argument("--boards", type=int, default=None,
                     help="process boards (default 3, or as before; 0 and --vm-boards N: a VM-only lab)")
    cmd.add_argument("--vm-boards", type=int, default=None,
                     help="number of QEMU boards booting Linux over NFS (default 0, or as before)")
    cmd.add_argument("--sites", type=int, default=None,
                     help="site servers, each with its own minion, store and Ganesha; the boards are "
                          "shared out among them (default 1, or as before)")
    cmd.add_argument("--vms-off", action="store_true",
                     help="do not power the VM boards on (a new lab's stay off until powered or switched)")
    cmd.add_argument("--no-wait", action="store_true", help="do not wait for the boards' minions")
    cmd = add("status", "boards, power, ping, minion up")
    cmd.add_argument("--json", action="store_true")
    cmd = add("down", "stop everything, remove namespaces and bridge")
    cmd.add_argument("--purge", action="store_true", help="also delete the lab's folder")
    cmd = add("power", "power a board on, off, cycle it, or show it")
    cmd.add_argument("board")
    cmd.add_argument("action", choices=client.POWER_ACTIONS)
    cmd = add("fault", "inject a fault into a board (or clear them)")
    cmd.add_argument("board")
    cmd.add_argument("fault", choices=client.FAULT_NAMES)
    return parser


def _print_status(data):
    print(f"lab {data['lab']} at {data['dir']}; daemons: "
          + ", ".join(f"{k} {'up' if v else 'down'}" for k, v in data["daemons"].items()))
    print("sites: " + ", ".join(f"{site} (NFS at {address})" for site, address in data["sites"].items()))
    print(f"{'board':8} {'site':6} {'power':5} {'ip':14} {'ping':5} {'minion':14} {'up':4} faults")
    for row in data["boards"]:
        print(f"{row['board']:8} {row['site']:6} {row['power']:5} {row['ip']:14} "
              f"{'yes' if row['ping'] else 'no':5} "
              f"{row.get('minion', '?'):14} {'yes' if row['minion_up'] else 'no':4} "
              f"{','.join(row.get('faults', [])) or '-'}")
        if row.get("boot_error"):
            print(f"         boot error: {row['boot_error']}")


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    lab_dir = farm.lab_dir_for(args.name, args.dir)
    try:
        if args.command == "up":
            result = farm.up(lab_dir, boards=args.boards, name=args.name if not args.dir else None,
                             wait=not args.no_wait, vm_boards=args.vm_boards, sites=args.sites,
                             vm_power=not args.vms_off)
            print(json.dumps(result, indent=2))
        elif args.command == "status":
            data = farm.status(lab_dir)
            print(json.dumps(data, indent=2)) if args.json else _print_status(data)
        elif args.command == "down":
            print(json.dumps(farm.down(lab_dir, purge=args.purge), indent=2))
        elif args.command == "power":
            print(json.dumps(client.power(LabConfig.read(lab_dir).socket_path, args.board, args.action),
                             indent=2))
        elif args.command == "fault":
            print(json.dumps(client.fault(LabConfig.read(lab_dir).socket_path, args.board, args.fault),
                             indent=2))
    except JetsonError as err:
        print(f"jetson-lab {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
