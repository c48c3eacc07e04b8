"""The farm's inventory: the ``jetson`` pillar, checked as a whole (docs/inventory.md).

The keys, their types and defaults are declared once, in ``jetson_farm.inventory_schema``; the
power settings next to each driver. ``Inventory(pillar).problems()`` names every broken rule as
``path: message`` (the schema's, then the rules across entries below); ``Inventory.load(pillar)``
refuses an inventory with any problem, so no part ever acts on half a valid inventory.
"""

import zlib
from dataclasses import dataclass, field

from pydantic import ValidationError

from jetson_farm import nfsroots
from jetson_farm.errors import InventoryError, NotAllowed, NotFound
from jetson_farm.inventory_schema import DEFAULT_NFS_OPTIONS, InventorySchema, JumpHostConfig, NfsConfig
from jetson_farm.layout import SiteLayout
from jetson_farm.names import NAME_RE, check_name, parse_image
from jetson_farm.power.registry import DRIVER_NAMES, POWER_KEYS, check_settings, keys_of
from jetson_farm.schema import MAC_RE, problem_items, unknown_key

POWER_DRIVERS = DRIVER_NAMES
SECTIONS = ("sites", "boards", "users", "images")

__all__ = ["DEFAULT_NFS_OPTIONS", "MAC_RE", "POWER_DRIVERS", "Board", "Inventory", "NfsConfig", "Site",
           "User"]


@dataclass(frozen=True)
class Site:
    name: str
    minion: str
    root: str
    nfs: NfsConfig
    address: str = ""  # the site server's address on its boards' segment (NFS server, flash -N)
    jump_host: JumpHostConfig = field(default_factory=JumpHostConfig)
    silent_timeout: int = 30  # seconds before a site minion that does not answer a read is given up


@dataclass(frozen=True)
class Board:
    name: str
    site: str
    minion: str
    ip: str
    nfsroot: str
    mac: str = ""
    netmask: str = "255.255.255.0"
    gateway: str = ""
    image: str = ""  # the default image; empty: none
    boot_timeout: int = 300
    down_timeout: int = 120
    power: dict = field(default_factory=dict)  # merged over defaults.power, the driver's keys only
    flash: dict = field(default_factory=dict)

    @property
    def fsid(self):
        """A stable NFS ``fsid`` for this board's export, derived from its name."""
        return stable_id(self.name)

    @property
    def export_id(self):
        """A stable Ganesha ``Export_Id`` (1..65535, never 0 which Ganesha keeps for ``/``)."""
        return stable_id(self.name) % 65000 + 100


@dataclass(frozen=True)
class User:
    name: str
    email: str = ""
    ssh_keys: tuple = ()
    quota_gb: float = 0
    admin: bool = False


def stable_id(name):
    """A number that depends only on ``name``: the same board keeps the same fsid forever."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF or 1


def _validated(raw, problems):
    """``(schema, wrong paths)`` of ``raw``, every mistake added to ``problems``.

    On a mistake, the schema holds the entries that are right on their own, so the rules across
    entries still run on them.
    """
    try:
        return InventorySchema.model_validate(raw), set()
    except ValidationError as err:
        items = problem_items(err, InventorySchema)
        problems.extend(f"{path}: {message}" if path else message for path, message in items)
        wrong = {loc[:2] if loc and loc[0] in SECTIONS else loc[:1] for loc in
                 (error["loc"] for error in err.errors(include_url=False))}
    paths = {path for path, _ in items}
    good = {}
    for key, value in raw.items():
        if (key,) in wrong:
            continue
        if key in SECTIONS:
            value = {name: entry for name, entry in value.items() if (key, name) not in wrong}
        good[key] = value
    try:
        return InventorySchema.model_validate(good), paths
    except ValidationError:  # a key pydantic names otherwise than it is: entry by entry
        return InventorySchema.model_validate(_right_entries(raw)), paths


def _right_entries(raw):
    """``raw`` with only the entries that pass the schema on their own."""
    good = {}
    for key, value in raw.items():
        parts = value.items() if key in SECTIONS and isinstance(value, dict) else [(None, value)]
        for name, entry in parts:
            try:
                InventorySchema.model_validate({key: {name: entry}} if name is not None else {key: entry})
            except ValidationError:
                continue
            if name is None:
                good[key] = entry
            else:
                good.setdefault(key, {})[name] = entry
    return good


def _names(section):
    """The keys of a raw section that are valid names."""
    if not isinstance(section, dict):
        return []
    return [name for name in section if isinstance(name, str) and NAME_RE.fullmatch(name)]


@dataclass(frozen=True)
class _BoardFacts:
    """What a driver's ``board_problems`` may ask of a board whose other keys may be wrong."""

    mac: str


def _blame_defaults(problems, where, inherited, board):
    """``problems`` with each mistake in a key inherited from ``defaults.power`` put where it is."""
    blamed = []
    for problem in problems:
        key = problem[len(where) + 1:].split(":", 1)[0] if problem.startswith(where + ".") else None
        if key in inherited:
            problem = f"defaults.power.{problem[len(where) + 1:]} (inherited by boards.{board})"
        blamed.append(problem)
    return blamed


class Inventory:
    """The ``jetson`` pillar, read without trusting it."""

    def __init__(self, pillar):
        self.raw = pillar if isinstance(pillar, dict) else {}
        self._problems = [] if isinstance(pillar, dict) else ["the jetson pillar must be a mapping"]
        schema, wrong = _validated(self.raw, self._problems)
        self.master = schema.master
        self.timezone = schema.timezone
        self.defaults = self.raw.get("defaults") if isinstance(self.raw.get("defaults"), dict) else {}
        self.sites = {name: Site(name=name, minion=spec.minion or name, root=spec.root, nfs=spec.nfs,
                                 address=spec.address, jump_host=spec.jump_host,
                                 silent_timeout=spec.silent_timeout)
                      for name, spec in schema.sites.items()}
        self.users = {name: User(name=name, email=spec.email, ssh_keys=tuple(spec.ssh_keys),
                                 quota_gb=spec.quota_gb, admin=spec.admin)
                      for name, spec in schema.users.items()}
        self.images = {ref: {"shared": list(spec.shared) if isinstance(spec.shared, tuple) else spec.shared,
                             "description": spec.description}
                       for ref, spec in schema.images.items()}
        self.boards = {}
        powers = self._read_power()
        for name, spec in schema.boards.items():
            image = schema.defaults.image if spec.image is None else spec.image
            self.boards[name] = Board(
                name=name, site=spec.site, minion=spec.minion or name, ip=spec.ip, nfsroot=spec.nfsroot,
                mac=spec.mac, netmask=spec.netmask, gateway=spec.gateway, image=image,
                boot_timeout=spec.boot_timeout or schema.defaults.boot_timeout,
                down_timeout=spec.down_timeout or schema.defaults.down_timeout,
                power=powers.get(name, {}), flash=spec.flash.model_dump())
        self._check_across(wrong)

    @classmethod
    def load(cls, pillar):
        """An inventory with no problem, or InventoryError naming every problem."""
        inventory = cls(pillar)
        if inventory._problems:
            raise InventoryError(inventory._problems)
        return inventory

    def problems(self):
        return list(self._problems)

    # -- power: each board's mapping merged over defaults.power, checked by its driver's model ----

    def _read_power(self):
        """``{board: merged power mapping}``; the mistakes in every board's power settings noted."""
        inherited = self.defaults.get("power", {"driver": "salt"})
        inherited = inherited if isinstance(inherited, dict) else {}
        for key in inherited:
            if key not in POWER_KEYS:
                self._problems.append(f"defaults.power.{key}: {unknown_key(key, POWER_KEYS)}")
        boards = self.raw.get("boards")
        merged = {}
        for name in _names(boards):  # a board of a wrong name: the schema named it
            spec = boards[name]
            own = spec.get("power", {}) if isinstance(spec, dict) else None
            if not isinstance(own, dict):
                continue  # the schema named it
            driver = own.get("driver", inherited.get("driver"))
            mine = keys_of(driver)
            power = {key: value for key, value in inherited.items() if key in mine or key == "driver"}
            power.update(own)
            merged[name] = power
            where = f"boards.{name}.power"
            settings, problems = check_settings(power, where)
            self._problems.extend(_blame_defaults(problems, where, set(power) - set(own), name))
            if settings is not None:
                board = _BoardFacts(spec.get("mac", ""))
                self._problems.extend(f"{where}.{key}: {message}"
                                      for key, message in settings.board_problems(board))
        return merged

    # -- rules across entries --------------------------------------------------------------------

    def _facts(self, wrong):
        """``{board: {key: value}}`` of every board's keys that are right on their own (for the
        rules across boards, which then also hold for a board with another mistake)."""
        boards, facts = self.raw.get("boards"), {}
        default_image = self.defaults.get("image", "") if "defaults.image" not in wrong else ""
        for name in _names(boards):
            spec = boards[name] if isinstance(boards[name], dict) else {}
            known = {"minion": name, "image": default_image}
            known.update((key, spec[key]) for key in ("site", "ip", "nfsroot", "mac", "minion", "image")
                         if key in spec and f"boards.{name}.{key}" not in wrong)
            known["mac"] = str(known.get("mac", "")).lower()
            facts[name] = known
        return facts

    def _check_across(self, wrong):
        sites, users = set(_names(self.raw.get("sites"))), set(_names(self.raw.get("users")))
        seen = {"mac": {}, "minion": {}}
        boards = self._facts(wrong)
        self._check_sites_boards(boards)
        for name, facts in boards.items():
            where = f"boards.{name}"
            if "site" in facts and facts["site"] not in sites:
                self._problems.append(f"{where}.site: {facts['site']!r} is not a site of this inventory")
            for key, owners in seen.items():
                value = facts.get(key)
                other = owners.setdefault(value, name) if value else name
                if other != name:
                    self._problems.append(f"{where}.{key}: {value} is also boards.{other}'s")
            if facts["image"]:
                self._check_owner(f"{where}.image", facts["image"], users)
        ids = {}
        for name in boards:
            other = ids.setdefault(stable_id(name) % 65000, name)
            if other != name:
                self._problems.append(
                    f"boards.{name}: its export id collides with boards.{other}; rename one")
        for site in self.sites.values():
            if site.minion in seen["minion"]:
                self._problems.append(
                    f"sites.{site.name}.minion: {site.minion} is also board {seen['minion'][site.minion]}")
        for ref, spec in self.images.items():
            self._check_owner(f"images.{ref}", ref, users)
            for i, user in enumerate(spec["shared"] if isinstance(spec["shared"], list) else ()):
                if user not in users:
                    self._problems.append(f"images.{ref}.shared[{i}]: {user!r} is not a user of this "
                                          "inventory")

    def _check_sites_boards(self, boards):
        """Per site (rule 7): one board per address, inside the site's network; nfsroots apart
        from each other, from the site's root and store, and from the server's system folders."""
        for site in self.sites.values():
            mine = {name: facts for name, facts in boards.items() if facts.get("site") == site.name}
            ips = {name: facts["ip"] for name, facts in mine.items() if "ip" in facts}
            roots = {name: facts["nfsroot"] for name, facts in mine.items() if "nfsroot" in facts}
            store = SiteLayout(site.root).images_dir
            for key, found in (("ip", nfsroots.address_problems(ips, site.name, site.nfs.network)),
                               ("nfsroot", nfsroots.path_problems(roots, site.name, site.root, store))):
                self._problems.extend(f"boards.{board}.{key}: {message}" for board, message in found)

    def _check_owner(self, where, image, users):
        owner, _ = parse_image(image)
        if owner not in users:
            self._problems.append(f"{where}: {image!r} belongs to {owner!r}, who is not a user of this "
                                  "inventory")

    # -- questions -------------------------------------------------------------------------

    def board(self, name):
        check_name("board", name)
        try:
            return self.boards[name]
        except KeyError:
            raise NotFound(f"unknown board {name!r}: it is not in the jetson pillar") from None

    def user(self, name):
        check_name("user", name)
        try:
            return self.users[name]
        except KeyError:
            raise NotFound(f"unknown user {name!r}: it is not in the jetson pillar") from None

    def site(self, name):
        try:
            return self.sites[name]
        except KeyError:
            raise NotFound(f"unknown site {name!r}: it is not in the jetson pillar") from None

    def site_of_minion(self, minion_id):
        """The site that the minion ``minion_id`` serves."""
        for site in self.sites.values():
            if site.minion == minion_id:
                return site
        raise NotFound(f"minion {minion_id!r} is not the site server of any site in the pillar")

    def boards_of_site(self, site_name):
        return [b for b in self.boards.values() if b.site == site_name]

    def may_boot(self, user, image):
        """Raise NotAllowed unless ``user`` may boot ``image`` (rule 3)."""
        owner, _ = parse_image(image)
        account = self.user(user)
        if owner == user or account.admin:
            return
        shared = self.images.get(image, {}).get("shared", False)
        if shared is True or (isinstance(shared, list) and user in shared):
            return
        raise NotAllowed(f"user {user!r} may not boot {image!r}: it is {owner}'s and not shared")
