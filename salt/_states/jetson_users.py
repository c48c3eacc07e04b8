"""A user who left pillar, retired: ``jetson_users.retired``. Used by ``jetson/users.sls``.

The work is ``jetson_users.retire`` (docs/inventory.md, "Users"): their images move intact to
``<root>/attic/<user>-<date>/``, their keys go, their account is locked; nothing is deleted.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jetson_users"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    if "jetson_users.retire" in __salt__:
        return __virtualname__
    return (False, "jetson_users: the jetson_users module is not loaded (saltutil.sync_all)")


def retired(name):
    """The user ``name``, no longer in pillar, has their images in the attic and a locked account.

    .. code-block:: yaml

        jetson-user-carol-retired:
          jetson_users.retired:
            - name: carol

    name
        The user. Refused (result False, with the reason, nothing done) while an image of theirs
        is at a board, a board is booted for them, or a booking of theirs has not ended.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        done = __salt__["jetson_users.retire"](name, test=bool(__opts__["test"]))
    except (CommandExecutionError, SaltInvocationError) as err:
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["comment"] = done["comment"]
    if done["changes"] and __opts__["test"]:
        ret["result"] = None
        ret["changes"] = {"would": done["changes"]}
    else:
        ret["changes"] = done["changes"]
    return ret


def refused(name, reason):
    """A pillar user whose account cannot be applied (a bad key, a clash with another account):
    result False with ``reason``, in a test run too; nothing of theirs is written.

    .. code-block:: yaml

        jetson-user-alice:
          jetson_users.refused:
            - name: alice
            - reason: "user alice: ssh_keys[0]: key type 'ssh-foo' is not one of ..."

    name
        The user.
    reason
        Why, naming the user.
    """
    return {"name": name, "changes": {}, "result": False, "comment": reason}
