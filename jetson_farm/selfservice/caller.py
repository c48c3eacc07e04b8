"""Who runs ``jetson-image``, the site it acts on, and the caller's own view of a file.

The store is root's (an import makes device nodes and root-owned files), so the command runs as
root through one sudo rule (docs/admin-guide.md). The caller is then the user sudo names in
``SUDO_UID``: sudo sets it itself and a user cannot choose it. Only root itself (no ``SUDO_UID``,
or ``SUDO_UID`` 0) is an admin, who may act for any user and read another config file; for
anyone else the target user and the config are never arguments.
"""

import dataclasses
import os
import pwd
import stat

import yaml

from jetson_farm.errors import JetsonError, NotAllowed, NotFound
from jetson_farm.inventory import Inventory
from jetson_farm.rootfs import RootfsSite

DEFAULT_CONFIG = "/etc/jetson-farm/site.yaml"
MINION_ID_FILE = "/etc/salt/minion_id"


class NeedsRoot(JetsonError):
    """The command was started without root, so it cannot write the store."""


@dataclasses.dataclass(frozen=True)
class Caller:
    """An OS account: ``admin`` for root itself, else the user sudo ran the command for."""

    name: str
    uid: int
    gid: int
    admin: bool = False


ROOT = Caller("root", 0, 0, admin=True)


def who_calls(environ=None, euid=None):
    """The :class:`Caller` of this process (see the module's docstring); NeedsRoot without root."""
    environ = os.environ if environ is None else environ
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        raise NeedsRoot("jetson-image needs root to write the store: run it through its sudo rule "
                        "(sudo jetson-image ...)")
    sudo_uid = environ.get("SUDO_UID", "")
    if not sudo_uid or sudo_uid == "0":
        return ROOT
    try:
        account = pwd.getpwuid(int(sudo_uid))
    except (KeyError, ValueError):
        raise NotAllowed(f"SUDO_UID {sudo_uid!r} names no account of this server") from None
    return Caller(account.pw_name, account.pw_uid, account.pw_gid)


def load_site(path=DEFAULT_CONFIG, site_name=None):
    """The :class:`RootfsSite` of this server, from the ``jetson`` pillar rendered to ``path``.

    The file holds ``jetson: <the pillar>`` and optionally ``site: <name>``; without it, the
    inventory's only site, else the site whose minion is this server's Salt minion id.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as err:
        raise JetsonError(f"cannot read the site config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise JetsonError(f"the site config {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jetson"), dict):
        raise JetsonError(f"the site config {path} must hold the jetson pillar under 'jetson:'")
    inventory = Inventory.load(data["jetson"])
    site_name = site_name or data.get("site")
    if site_name:
        return RootfsSite(inventory, inventory.site(str(site_name)))
    if len(inventory.sites) == 1:
        return RootfsSite(inventory, next(iter(inventory.sites.values())))
    try:
        with open(MINION_ID_FILE, encoding="utf-8") as handle:
            minion = handle.read().strip()
    except OSError:
        raise JetsonError(f"the site config {path} names several sites and no 'site:', and "
                          f"{MINION_ID_FILE} cannot be read to tell which one this server is") from None
    return RootfsSite(inventory, inventory.site_of_minion(minion))


def open_as(caller, path):
    """A read-only fd of ``path`` opened with the caller's own rights, so root never reads a file
    for a user who could not (another user's upload, ``/root/...``). A FIFO does not block."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        if caller.admin or os.geteuid() != 0:
            fd = os.open(path, flags)
        else:
            fd = _open_with_rights(caller, path, flags)
    except OSError as err:
        raise NotFound(f"cannot open {path}: {err.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotFound(f"{path} is not a regular file")
    return fd


def _open_with_rights(caller, path, flags):
    saved_groups = os.getgroups()
    try:
        os.setgroups(os.getgrouplist(caller.name, caller.gid))
        os.setegid(caller.gid)
        os.seteuid(caller.uid)
        return os.open(path, flags)
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(saved_groups)
