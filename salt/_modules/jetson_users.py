"""The users' accounts and the SSH jump host of this site server: what ``jetson/users.sls`` applies.

A thin door over :mod:`jetson_farm.siteusers` on this minion's site (pillar ``jetson``, its
``sites.<site>.jump_host``). See docs/inventory.md, "Users: accounts and the SSH jump host".
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import siteusers
from jetson_farm.errors import InvalidName, JetsonError
from jetson_farm.rootfs import RootfsSite

__virtualname__ = "jetson_users"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def _site():
    pillar = __pillar__.get("jetson", {})
    return RootfsSite.from_pillar({"jetson": pillar}, __opts__["id"]), pillar


def plan():
    """What the users' state applies here: accounts, keys, slots, the sshd drop-in, retirements.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_users.plan

    Returns ``{"enabled", "group", "users": {name: {slot, keys_file, keys, error}}, "previous",
    "sshd", "sudoers_text", "site_config_text", ...}``; ``enabled`` False (pillar
    ``sites.<site>.jump_host.enabled``) and nothing else to do when this site is no jump host.
    A pillar this site cannot be read from gives ``{"enabled": None, "error": why}``, so the SLS
    fails one state with the reason instead of failing to render.
    """
    try:
        site, pillar = _site()
        return siteusers.plan(site, pillar)
    except JetsonError as err:
        return {"enabled": None, "error": f"jetson_users: {err}"}


def retire(user, test=False):
    """Retire a user who left pillar: images to ``<root>/attic/<user>-<date>/``, keys removed,
    account locked (never deleted). Refused while anything of theirs is booted or booked.

    CLI Example:

    .. code-block:: bash

        salt site01 jetson_users.retire carol test=True

    user
        The user, no longer in pillar ``jetson:users``.
    test
        Only say what would change.

    Returns ``{"user", "changes", "comment"}``.
    """
    try:
        site, _ = _site()
        return siteusers.retire(site, user, test=bool(test))
    except InvalidName as err:
        raise SaltInvocationError(f"jetson_users: {err}") from err
    except JetsonError as err:
        raise CommandExecutionError(f"jetson_users: {err}") from err
