"""The farm's inventory: the ``jetson`` pillar, checked as a whole (DESIGN.md section 3).

``Inventory(pillar).problems()`` names every broken rule; ``Inventory.load(pillar)`` refuses an
inventory with any problem, so no part ever acts on half a valid inventory.
"""

import ipaddress
import posixpath
import re
import zlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jetson_farm.errors import InvalidName, InventoryError, NotAllowed, NotFound
from jetson_farm.names import check_name, parse_image

NFS_BACKENDS = ("kernel", "ganesha")
POWER_DRIVERS = ("salt", "ssh", "wol", "http", "ipmi", "lab")
DEFAULT_NFS_OPTIONS = ["rw", "nohide", "insecure", "no_subtree_check", "async", "no_root_squash"]
NFS_OPTION_RE = re.compile(r"^[a-z_]+(=[A-Za-z0-9_.:/-]+)?$")
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
SSH_KEY_RE = re.compile(
    r"^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n\r]*)?$"
)
GANESHA_DBUS_RE = re.compile(r"(unix:(path|abstract)=[A-Za-z0-9_./-]+)?")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class NfsConfig:
    backend: str = "kernel"
    clients: str = "*"
    options: tuple = tuple(DEFAULT_NFS_OPTIONS)
    exports_file: str = "/etc/exports.d/jetson.exports"
    ganesha_conf: str = "/etc/ganesha/jetson.conf"
    ganesha_dbus: str = ""  # the DBus address Ganesha listens on; "" is the system bus


@dataclass(frozen=True)
class Site:
    name: str
    minion: str
    root: str
    nfs: NfsConfig
    address: str = ""  # the site server's address on its boards' segment (NFS server, flash -N)


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
    power: dict = field(default_factory=dict)
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


class Inventory:
    """The ``jetson`` pillar, read without trusting it."""

    def __init__(self, pillar):
        self.raw = pillar if isinstance(pillar, dict) else {}
        self._problems = []
        if not isinstance(pillar, dict):
            self._problems.append("the jetson pillar must be a mapping")
        self.master = str(self.raw.get("master", "salt"))
        self.timezone = str(self.raw.get("timezone", "UTC"))
        self.defaults = self._mapping(self.raw.get("defaults", {}), "defaults")
        self.sites = {}
        self.boards = {}
        self.users = {}
        self.images = {}
        self._read_sites()
        self._read_users()
        self._read_images()
        self._read_boards()
        self._check_global()

    @classmethod
    def load(cls, pillar):
        """An inventory with no problem, or InventoryError naming every problem."""
        inventory = cls(pillar)
        if inventory._problems:
            raise InventoryError(inventory._problems)
        return inventory

    def problems(self):
        return list(self._problems)

    # -- reading ---------------------------------------------------------------------------

    def _mapping(self, value, where):
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._problems.append(f"{where} must be a mapping, not {type(value).__name__}")
            return {}
        return value

    def _name(self, kind, value, where):
        try:
            return check_name(kind, value)
        except InvalidName as err:
            self._problems.append(f"{where}: {err}")
            return None

    def _path(self, value, where):
        if not isinstance(value, str) or not value.startswith("/"):
            self._problems.append(f"{where}: {value!r} must be an absolute path")
            return None
        if ".." in value.split("/") or posixpath.normpath(value) != value or value == "/":
            self._problems.append(f"{where}: {value!r} must be a normalised path without '..'")
            return None
        return value

    def _ip(self, value, where, required=True):
        if not value and not required:
            return ""
        try:
            return str(ipaddress.IPv4Address(str(value)))
        except ValueError:
            self._problems.append(f"{where}: {value!r} is not an IPv4 address")
            return None

    def _seconds(self, value, where):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self._problems.append(f"{where}: {value!r} must be a positive number of seconds")
            return 1
        return value

    def _read_sites(self):
        for name, spec in self._mapping(self.raw.get("sites"), "sites").items():
            where = f"sites.{name}"
            spec = self._mapping(spec, where)
            if self._name("site", name, where) is None:
                continue
            minion = self._name("minion", spec.get("minion", name), f"{where}.minion")
            root = self._path(spec.get("root"), f"{where}.root")
            nfs = self._read_nfs(self._mapping(spec.get("nfs", {}), f"{where}.nfs"), f"{where}.nfs")
            address = self._ip(spec.get("address", ""), f"{where}.address", required=False)
            if minion and root and nfs and address is not None:
                self.sites[name] = Site(name=name, minion=minion, root=root, nfs=nfs, address=address)

    def _read_nfs(self, spec, where):
        backend = spec.get("backend", "kernel")
        if backend not in NFS_BACKENDS:
            self._problems.append(f"{where}.backend: {backend!r} is not one of {NFS_BACKENDS}")
            return None
        clients = str(spec.get("clients", "*"))
        if not re.fullmatch(r"[A-Za-z0-9.*:/_-]+", clients):
            self._problems.append(f"{where}.clients: {clients!r} is not a host, network or '*'")
            return None
        options = spec.get("options", DEFAULT_NFS_OPTIONS)
        if not isinstance(options, list) or not all(
            isinstance(o, str) and NFS_OPTION_RE.fullmatch(o) for o in options
        ):
            self._problems.append(f"{where}.options: {options!r} must be a list of NFS options")
            return None
        paths = {}
        for key, default in (("exports_file", NfsConfig.exports_file),
                             ("ganesha_conf", NfsConfig.ganesha_conf)):
            paths[key] = self._path(spec.get(key, default), f"{where}.{key}")
            if paths[key] is None:
                return None
        ganesha_dbus = spec.get("ganesha_dbus", "")
        if not isinstance(ganesha_dbus, str) or not GANESHA_DBUS_RE.fullmatch(ganesha_dbus):
            self._problems.append(
                f"{where}.ganesha_dbus: {ganesha_dbus!r} must be a DBus address like "
                "'unix:path=/run/jetson/bus.sock', or empty for the system bus")
            return None
        return NfsConfig(backend=backend, clients=clients, options=tuple(options),
                         ganesha_dbus=ganesha_dbus, **paths)

    def _read_users(self):
        for name, spec in self._mapping(self.raw.get("users"), "users").items():
            where = f"users.{name}"
            spec = self._mapping(spec, where)
            if self._name("user", name, where) is None:
                continue
            email = spec.get("email", "")
            if email and not EMAIL_RE.fullmatch(str(email)):
                self._problems.append(f"{where}.email: {email!r} is not an email address")
            keys = spec.get("ssh_keys", [])
            if not isinstance(keys, list):
                self._problems.append(f"{where}.ssh_keys must be a list of public keys")
                keys = []
            for i, key in enumerate(keys):
                if not isinstance(key, str) or not SSH_KEY_RE.fullmatch(key):
                    self._problems.append(f"{where}.ssh_keys[{i}] is not one OpenSSH public key line")
            quota = spec.get("quota_gb", 0)
            if isinstance(quota, bool) or not isinstance(quota, int | float) or quota < 0:
                self._problems.append(f"{where}.quota_gb: {quota!r} must be a number >= 0")
                quota = 0
            self.users[name] = User(name=name, email=str(email), ssh_keys=tuple(keys),
                                    quota_gb=quota, admin=bool(spec.get("admin", False)))

    def _read_images(self):
        for ref, spec in self._mapping(self.raw.get("images"), "images").items():
            where = f"images.{ref}"
            try:
                parse_image(ref)
            except InvalidName as err:
                self._problems.append(f"{where}: {err}")
                continue
            spec = self._mapping(spec, where)
            shared = spec.get("shared", False)
            if not isinstance(shared, bool | list):
                self._problems.append(f"{where}.shared must be true or a list of users")
                shared = False
            self.images[ref] = {"shared": shared, "description": str(spec.get("description", ""))}

    def _read_boards(self):
        nfsroots = {}
        power_default = self._mapping(self.defaults.get("power", {"driver": "salt"}),
                                      "defaults.power")
        for name, spec in self._mapping(self.raw.get("boards"), "boards").items():
            where = f"boards.{name}"
            spec = self._mapping(spec, where)
            if self._name("board", name, where) is None:
                continue
            site = spec.get("site")
            if site not in self.sites:
                self._problems.append(f"{where}.site: {site!r} is not a site of this inventory")
            minion = self._name("minion", spec.get("minion", name), f"{where}.minion")
            ip = self._ip(spec.get("ip"), f"{where}.ip")
            nfsroot = self._path(spec.get("nfsroot"), f"{where}.nfsroot")
            if nfsroot in nfsroots:
                self._problems.append(f"{where}.nfsroot: {nfsroot} is also boards.{nfsroots[nfsroot]}'s")
            elif nfsroot:
                nfsroots[nfsroot] = name
            mac = str(spec.get("mac", "")).lower()
            if mac and not MAC_RE.fullmatch(mac):
                self._problems.append(f"{where}.mac: {mac!r} is not a MAC address")
            netmask = self._ip(spec.get("netmask", "255.255.255.0"), f"{where}.netmask")
            gateway = self._ip(spec.get("gateway", ""), f"{where}.gateway", required=False)
            image = spec.get("image", self.defaults.get("image", ""))
            if image:
                try:
                    parse_image(image)
                except InvalidName as err:
                    self._problems.append(f"{where}.image: {err}")
            power = dict(power_default)
            power.update(self._mapping(spec.get("power", {}), f"{where}.power"))
            if power.get("driver") not in POWER_DRIVERS:
                self._problems.append(
                    f"{where}.power.driver: {power.get('driver')!r} is not one of {POWER_DRIVERS}")
            timeouts = {
                key: self._seconds(spec.get(key, self.defaults.get(key, default)), f"{where}.{key}")
                for key, default in (("boot_timeout", 300), ("down_timeout", 120))
            }
            if None in (minion, ip, nfsroot, netmask, gateway):
                continue
            self.boards[name] = Board(
                name=name, site=site, minion=minion, ip=ip, nfsroot=nfsroot, mac=mac,
                netmask=netmask, gateway=gateway, image=image or "", power=power,
                flash=self._mapping(spec.get("flash", {}), f"{where}.flash"), **timeouts)

    def _check_global(self):
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self._problems.append(f"timezone: {self.timezone!r} is not a known time zone")
        ids = {}
        for board in self.boards.values():
            other = ids.setdefault(board.export_id, board.name)
            if other != board.name:
                self._problems.append(
                    f"boards.{board.name}: its export id collides with boards.{other}; rename one")
        minions = {b.minion: b.name for b in self.boards.values()}
        for site in self.sites.values():
            if site.minion in minions:
                self._problems.append(
                    f"sites.{site.name}.minion: {site.minion} is also board {minions[site.minion]}")

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
