"""The schema of the ``jetson`` pillar (docs/inventory.md is checked against it by a test).

Each key is declared once, here, with its type, default and meaning (the ``description``):
``Inventory`` reads a pillar through these models, and ``tests/unit/test_schema_docs.py``
compares the key table of docs/inventory.md with ``key_paths(InventorySchema)``. The power
settings of each driver are declared next to the driver (``jetson_farm/power/drivers/``).
"""

import ipaddress
import re
from typing import ClassVar

from pydantic import Field

from jetson_farm.schema import (
    SSH_KEY_RE,
    Mac,
    StrictModel,
    TimeZone,
    abs_path,
    choice,
    email,
    expect_string,
    field,
    host,
    image_or_empty,
    image_ref,
    ipv4,
    ipv4_or_empty,
    list_of,
    mapping,
    name_check,
    name_of,
    number,
    refuse,
    shown,
    text,
)

DEFAULT_NFS_OPTIONS = ("rw", "nohide", "insecure", "no_subtree_check", "async", "no_root_squash")
NFS_OPTION_RE = re.compile(r"[a-z_]+(=[A-Za-z0-9_.:/-]+)?")
GANESHA_DBUS_RE = re.compile(r"(unix:(path|abstract)=[A-Za-z0-9_./-]+)?")


def _nfs_options(value):
    if not isinstance(value, list) or not all(
            isinstance(o, str) and NFS_OPTION_RE.fullmatch(o) for o in value):
        raise refuse(f"{shown(value)} must be a list of NFS options")
    return tuple(value)


def _ipv4_network(value):
    expect_string(value, "an IPv4 network like '192.168.137.0/24'", 64)
    try:
        return str(ipaddress.IPv4Network(value))
    except ValueError as err:
        raise refuse(f"{shown(value)} is not an IPv4 network like '192.168.137.0/24' ({err})") from None


def _dbus(value):
    if not isinstance(value, str) or len(value) > 255 or not GANESHA_DBUS_RE.fullmatch(value):
        raise refuse(f"{shown(value)} must be a DBus address like 'unix:path=/run/jetson/bus.sock', "
                     "or empty for the system bus")
    return value


def _seconds(value):
    return number(value, minimum=1, integer=True, what="a positive number of seconds")


def _quota(value):
    return number(value, minimum=0, what="a number >= 0")


def _ssh_key(value):
    if not isinstance(value, str) or len(value) > 16384 or not SSH_KEY_RE.fullmatch(value):
        raise refuse("not one OpenSSH public key line")
    return value


def _shared(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return list_of(name_check("user"), "user names")(value)
    raise refuse("must be true or a list of users")


SiteName = name_of("site")
BoardName = name_of("board")
UserName = name_of("user")
MinionName = name_of("minion")
ImageRef = field(image_ref, "`user/name`")
ImageKey = field(image_ref, "`user/name`")
OptionalImage = field(image_or_empty, "`user/name`")
Seconds = field(_seconds, "seconds")
AbsPath = field(abs_path, "absolute path")
IPv4 = field(ipv4, "IPv4")
OptionalIPv4 = field(ipv4_or_empty, "IPv4")
Text = field(text, "string")
Email = field(email, "address")
PowerMapping = field(mapping, "mapping")


class NfsConfig(StrictModel):
    unknown_key_hints: ClassVar[dict] = {
        "clients": "renamed to `network`: each nfsroot is exported to its own board's ip only, and "
                   "`network` is the range every board's ip of the site must fall inside"}

    backend: choice("kernel", "ganesha") = Field("kernel",
                                                 description="which NFS server exports the nfsroots")
    network: field(_ipv4_network, "IPv4 network") = Field(
        "0.0.0.0/0", description="the range every board's `ip` of the site must fall inside (each "
                                 "nfsroot is exported to its own board's `ip` only)")
    options: field(_nfs_options, "list of NFS options") = Field(DEFAULT_NFS_OPTIONS,
                                                                description="export options")
    exports_file: AbsPath = Field("/etc/exports.d/jetson.exports",
                                  description="the one file the kernel backend owns")
    ganesha_conf: AbsPath = Field("/etc/ganesha/jetson.conf",
                                  description="the one file of EXPORT blocks the Ganesha backend owns")
    ganesha_dbus: field(_dbus, "DBus address") = Field(
        "", description="where the site's Ganesha listens for `ExportMgr` calls (`unix:path=...`); "
                        "empty: the system bus")


JUMP_PATH_RE = re.compile(r"/[A-Za-z0-9._/+-]*")


def _jump_path(value):
    """An absolute path that may be written into sshd's and sudo's configs: no space, no quote."""
    value = abs_path(value)
    if not JUMP_PATH_RE.fullmatch(value):
        raise refuse(f"{shown(value)} may hold only letters, digits and . _ / + -")
    return value


def _service(value):
    if value and not re.fullmatch(r"[A-Za-z0-9@._-]{1,64}", expect_string(value, "a service name", 64)):
        raise refuse(f"{shown(value)} is not a service name")
    return value


JumpPath = field(_jump_path, "absolute path")


class JumpHostConfig(StrictModel):
    # Off unless asked for: it sets the server's sshd to keys only (docs/site-layout.md, "Users").
    enabled: bool = Field(False, description="the site server is the users' SSH jump host: an account "
                          "per user, keys only, `jetson-image` and forwarding to the boards only")
    group: name_of("group") = Field("jetson-users", description="the primary group of the users' accounts "
                                    "(sshd's `Match Group`)")
    sshd_config: JumpPath = Field("/etc/ssh/sshd_config.d/jetson-farm.conf",
                                  description="the sshd drop-in the state owns")
    sshd_service: field(_service, "string") = Field(
        "ssh", description="reloaded when the drop-in changes; empty: not reloaded by the state")
    keys_dir: JumpPath = Field("/etc/ssh/jetson-farm/authorized_keys",
                               description="one root-owned `authorized_keys` file per user")
    command: JumpPath = Field("/usr/local/bin/jetson-image",
                              description="the installed `jetson-image` (`ForceCommand` and the sudo rule)")
    sudoers: JumpPath = Field("/etc/sudoers.d/jetson-image", description="the sudo rule the state owns")
    site_config: JumpPath = Field("/etc/jetson-farm/site.yaml",
                                  description="the site config `jetson-image` reads (the pillar)")


class SiteSchema(StrictModel):
    minion: MinionName = Field(None, description="the site server's minion id (default: the site's name)")
    root: AbsPath = Field(description="`images/`, `boards/`, `state/` live here; same file system as "
                                      "every nfsroot")
    address: OptionalIPv4 = Field("", description="the site server's address on its boards' segment "
                                                  "(NFS server, `flash.sh -N`)")
    nfs: NfsConfig = Field(NfsConfig(), description="the site's NFS server")
    jump_host: JumpHostConfig = Field(JumpHostConfig(), description="the SSH jump host and the users' "
                                      "accounts")
    silent_timeout: Seconds = Field(30, description="step 0 and `jetson.status`: a site minion that "
                                    "neither answers nor says it still runs the job (`saltutil.find_job`) "
                                    "is given up after about this long (its boards fail, or show no image)")


class DefaultsSchema(StrictModel):
    image: OptionalImage = Field("", description="the image a board returns to at the end of a slot")
    boot_timeout: Seconds = Field(300, description="step 7: how long a board may take to come back")
    down_timeout: Seconds = Field(120, description="step 2: how long a soft reboot may take before "
                                                   "escalation")
    power: PowerMapping = Field({"driver": "salt"}, description="merged under each board's `power`; "
                                "see docs/power-drivers.md")


class FlashSchema(StrictModel):
    # The formats are checked where the line is built (jetson_farm.runner.flash), which names them.
    target: Text = Field("", description="the L4T board config of the flash line (`jetson-tk1`)")
    iface: Text = Field("eth0", description="the board's network interface on the flash line")


class BoardSchema(StrictModel):
    site: SiteName = Field(description="which site server serves it")
    minion: MinionName = Field(None, description="its minion id (default: the board's name; one "
                                                        "accepted key for life, see `jetson.enroll`)")
    ip: IPv4 = Field(description="its address (ping, NFS sessions, the flash line)")
    netmask: IPv4 = Field("255.255.255.0", description="its netmask")
    gateway: OptionalIPv4 = Field("", description="its gateway (the flash line)")
    mac: Mac = Field("", description="its MAC address (Wake-on-LAN)")
    nfsroot: AbsPath = Field(description="the exported directory the board boots from; unique per board")
    image: OptionalImage = Field(None, description="its own default image (default: `defaults.image`)")
    boot_timeout: Seconds = Field(None, description="overrides `defaults.boot_timeout`")
    down_timeout: Seconds = Field(None, description="overrides `defaults.down_timeout`")
    power: PowerMapping = Field({}, description="its power driver and settings, merged over "
                                "`defaults.power`; see docs/power-drivers.md")
    flash: FlashSchema = Field(FlashSchema(),
                               description="the L4T flash line (`salt-run jetson.flash_command`)")


class UserSchema(StrictModel):
    email: Email = Field("", description="where the bridge sends mail")
    ssh_keys: list[field(_ssh_key, "OpenSSH public key lines")] = Field(
        [], description="injected into `root/.ssh/authorized_keys` of the images they boot")
    quota_gb: field(_quota, "number") = Field(0, description="store quota in GB, `jetson_rootfs.usage` "
                                                             "(0: none)")
    admin: bool = Field(False, description="may boot any image")


class ImageSchema(StrictModel):
    shared: field(_shared, "`true` or list of users") = Field(False, description="who else may boot it "
                                                                                  "(rule 3)")
    description: Text = Field("", description="what it is")


class InventorySchema(StrictModel):
    master: field(host, "host name or address") = Field(
        "salt", description="the address board minions connect to (injected into every image)")
    timezone: TimeZone = Field("UTC", description="floating calendar times are read in it")
    sites: dict[SiteName, SiteSchema] = Field({}, json_schema_extra={"key": "<site>"},
                                              description="the site servers")
    defaults: DefaultsSchema = Field(DefaultsSchema(), description="what boards inherit")
    boards: dict[BoardName, BoardSchema] = Field({}, json_schema_extra={"key": "<board>"},
                                                 description="the boards")
    users: dict[UserName, UserSchema] = Field({}, json_schema_extra={"key": "<user>"},
                                              description="who may book and boot")
    images: dict[ImageKey, ImageSchema] = Field({}, json_schema_extra={"key": "<user/name>"},
                                                description="images with settings (sharing)")
