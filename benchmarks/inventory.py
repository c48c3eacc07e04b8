"""How long ``Inventory.load`` takes for a farm of N boards (every site module call loads it).

Builds a valid inventory of N boards (default 200; lab power with a socket, one site), loads
it repeatedly and prints the best mean of five rounds, and the time to list the problems of
the same inventory with one broken ipmi board and three typos (issue 9's case).

    .venv/bin/python benchmarks/inventory.py [--boards 200] [--rounds 20]
"""

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jetson_farm.inventory import Inventory
from tests.conftest import make_pillar


def farm(boards):
    names = [f"b{i}" for i in range(boards)]
    pillar = make_pillar("/srv/farm", boards=names)
    for i, name in enumerate(names):
        pillar["boards"][name].update(ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256 + 1}",
                                      mac=f"00:04:4b:{i // 65536:02x}:{i // 256 % 256:02x}:{i % 256:02x}")
    return pillar


def best_ms(action, rounds):
    means = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            action()
        means.append((time.perf_counter() - began) / rounds * 1000)
    return min(means)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    pillar = farm(args.boards)
    broken = copy.deepcopy(pillar)
    broken["boards"]["b0"]["power"] = {"driver": "ipmi", "hots": "bmc0"}
    broken["boards"]["b0"]["down_timout"] = 60
    broken["users"]["alice"]["emial"] = "alice@example.org"
    assert not Inventory(pillar).problems() and len(Inventory(broken).problems()) == 6
    load = best_ms(lambda: Inventory.load(pillar), args.rounds)
    print(f"Inventory.load, {args.boards} boards: {load:.1f} ms")
    print(f"Inventory(...).problems(), {args.boards} boards, 6 problems: "
          f"{best_ms(lambda: Inventory(broken).problems(), args.rounds):.1f} ms")


if __name__ == "__main__":
    main()
