"""Inventories shared by the tiers: the broken one of issue 9 and every problem it must show."""

from tests.conftest import make_pillar


def broken_ipmi_pillar(farm_dir):
    """An ipmi board with no host, user or password, and the typos ``hots``, ``down_timout``, ``emial``."""
    pillar = make_pillar(farm_dir, boards=("jtk1", "jtk2", "jtk3"))
    pillar["boards"]["jtk3"]["power"] = {"driver": "ipmi", "hots": "bmc3.lab"}
    pillar["boards"]["jtk3"]["down_timout"] = 60
    pillar["users"]["alice"]["emial"] = "alice@example.org"
    return pillar


BROKEN_IPMI_PROBLEMS = [
    "boards.jtk3.down_timout: unknown key (did you mean 'down_timeout'?)",
    "users.alice.emial: unknown key (did you mean 'email'?)",
    "boards.jtk3.power.host: required",
    "boards.jtk3.power.user: required",
    "boards.jtk3.power.hots: unknown key (did you mean 'host'?)",
    "boards.jtk3.power: driver ipmi needs exactly one of password_file, password_env "
    "(never the password itself)",
]
