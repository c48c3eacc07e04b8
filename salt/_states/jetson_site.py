"""The site server's store, as a state: ``jetson_site.prepared``.

Used by ``jetson/site.sls``. The work is ``jetson_rootfs.prepare``: the store's folders with
their owners and modes, and each board's empty nfsroot, after checking that they share one
file system.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jetson_site"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    if "jetson_rootfs.prepare" in __salt__:
        return __virtualname__
    return (False, "jetson_site: the jetson_rootfs module is not loaded (saltutil.sync_all)")


def prepared(name):
    """The store of this site server exists and every nfsroot is on its file system.

    .. code-block:: yaml

        jetson-store:
          jetson_site.prepared

    name
        Only the state's ID; the site is the one whose ``minion`` is this minion.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        plan = __salt__["jetson_rootfs.prepare"](test=True)
        if not plan["changed"]:
            ret["comment"] = f"the store at {plan['root']} and the nfsroots are ready"
            return ret
        if __opts__["test"]:
            ret["result"] = None
            ret["changes"] = {k: v for k, v in (("would create", plan["created"]),
                                                ("would fix", plan.get("fixed"))) if v}
            ret["comment"] = (f"{len(plan['created'])} folders would be created, "
                              f"{len(plan.get('fixed') or {})} owners/modes fixed")
            return ret
        done = __salt__["jetson_rootfs.prepare"]()
    except (CommandExecutionError, SaltInvocationError) as err:
        ret["result"] = False
        ret["comment"] = str(err)
        return ret
    ret["changes"] = {k: v for k, v in (("created", done["created"]), ("fixed", done.get("fixed"))) if v}
    ret["comment"] = (f"created {len(done['created'])} folders under the store and nfsroots, "
                      f"fixed the owner or mode of {len(done.get('fixed') or {})}")
    return ret
