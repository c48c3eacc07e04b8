"""How long one power action takes per driver, against the lab's virtual devices on loopback.

Run as root from the repository: ``.venv/bin/python benchmarks/power.py [--runs 20]``.
Prints the median and worst time of each action (core code, no Salt overhead).
"""

import argparse
import statistics
import tempfile
import time

from jetson_farm.inventory import Board
from jetson_farm.power import act, driver_for
from jetson_lab.ipmi_sim import IpmiSim
from jetson_lab.pdu import VirtualPdu
from jetson_lab.ssh_board import SshBoard


def board(power):
    return Board(name="jtk1", site="site01", minion="jtk1", ip="127.0.11.1", nfsroot="/NFSRoot1",
                 mac="00:04:4b:00:00:01", netmask="255.255.255.0", power=power)


def measure(driver, action, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        act(driver, action)
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        with VirtualPdu() as pdu:
            driver = driver_for(board({"driver": "http", "on": pdu.url(1, "on"), "off": pdu.url(1, "off"),
                                       "status": pdu.url(1, "status")}), scratch)
            rows += [("http", action, *measure(driver, action, args.runs)) for action in ("on", "status")]
        with IpmiSim(f"{scratch}/bmc") as bmc:
            driver = driver_for(board({"driver": "ipmi", "host": bmc.host, "port": bmc.port, "user": bmc.user,
                                       "password_file": bmc.password_file}), scratch)
            rows += [("ipmi", action, *measure(driver, action, args.runs)) for action in ("on", "status")]
        with SshBoard(f"{scratch}/ssh") as ssh_board:
            driver = driver_for(board({"driver": "ssh", "host": ssh_board.host, "port": ssh_board.port,
                                       "key": ssh_board.client_key}), scratch)
            rows.append(("ssh", "reboot", *measure(driver, "reboot", args.runs)))
        driver = driver_for(board({"driver": "wol", "broadcast": "127.255.255.255", "port": 9}), scratch)
        rows.append(("wol", "on", *measure(driver, "on", args.runs)))
    print(f"{'driver':8} {'action':8} {'median ms':>10} {'worst ms':>10}   ({args.runs} runs each)")
    for name, action, median, worst in rows:
        print(f"{name:8} {action:8} {median * 1000:10.1f} {worst * 1000:10.1f}")


if __name__ == "__main__":
    main()
