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


def _set(board, key, value):
    return lambda pillar, root: pillar["boards"][board].update({key: value(pillar, root)})


# Rule 7 (docs/inventory.md, "One board per root"): (what breaks it, the change to make_pillar's
# two-board farm ``pillar`` whose site root is ``root``, the problem it must show, ``{farm}``
# standing for the farm's folder and ``{root}`` for the site root).
ISOLATION_CASES = [
    ("two boards on one address", _set("jtk2", "ip", lambda p, r: p["boards"]["jtk1"]["ip"]),
     "boards.jtk2.ip: 127.0.11.1 is also boards.jtk1's: each would reach the other's nfsroot"),
    ("an address outside the site's network", _set("jtk2", "ip", lambda p, r: "10.1.2.3"),
     "boards.jtk2.ip: 10.1.2.3 is outside sites.site01.nfs.network 127.0.0.0/8"),
    ("two boards on one nfsroot", _set("jtk2", "nfsroot", lambda p, r: p["boards"]["jtk1"]["nfsroot"]),
     "boards.jtk2.nfsroot: {farm}/NFSRoot1 is also boards.jtk1's"),
    ("an nfsroot inside another's",
     _set("jtk2", "nfsroot", lambda p, r: p["boards"]["jtk1"]["nfsroot"] + "/x"),
     "boards.jtk2.nfsroot: {farm}/NFSRoot1/x is inside boards.jtk1's nfsroot {farm}/NFSRoot1"),
    ("an nfsroot that is the site root", _set("jtk2", "nfsroot", lambda p, r: r),
     "boards.jtk2.nfsroot: {root} is the root of sites.site01"),
    ("an nfsroot inside the site root", _set("jtk2", "nfsroot", lambda p, r: f"{r}/boards"),
     "boards.jtk2.nfsroot: {root}/boards is inside the root of sites.site01 ({root})"),
    ("an nfsroot that is the store", _set("jtk2", "nfsroot", lambda p, r: f"{r}/images"),
     "boards.jtk2.nfsroot: {root}/images is inside the store of sites.site01 ({root}/images)"),
    ("an nfsroot inside the store", _set("jtk2", "nfsroot", lambda p, r: f"{r}/images/alice/cuda-dev"),
     "boards.jtk2.nfsroot: {root}/images/alice/cuda-dev is inside the store of sites.site01"),
    ("an nfsroot around the site root", _set("jtk2", "nfsroot", lambda p, r: r.rsplit("/", 1)[0]),
     "boards.jtk2.nfsroot: {farm} holds the root of sites.site01 ({root})"),
]

SYSTEM_FOLDER_CASES = ["/etc", "/usr", "/var", "/var/lib", "/boot", "/home", "/lib64", "/libexec", "/proc",
                       "/root", "/srv", "/tmp"]
