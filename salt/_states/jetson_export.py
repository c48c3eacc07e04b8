"""State: a board's nfsroot is exported (``present``) or exported to nobody (``absent``).

.. code-block:: yaml

    jtk1-exported:
      jetson_export.present:
        - name: jtk1

Built on the ``jetson_nfs`` execution module; honours ``test=True``.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jetson_export"


def __virtual__():
    if "jetson_nfs.export" not in __salt__:
        return False, "jetson_export needs the jetson_nfs execution module"
    return __virtualname__


def _current(name):
    """The board's entry in ``jetson_nfs.exports``, or None."""
    return next((e for e in __salt__["jetson_nfs.exports"]() if e["board"] == name), None)


def _apply(name, want_exported):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    verb = "exported" if want_exported else "unexported"
    try:
        if __opts__["test"]:
            entry = _current(name)
            __salt__["jetson_nfs.is_exported"](name)  # validates the board name and its site
            in_place = bool(entry and entry["active"] and entry["configured"]) if want_exported \
                else entry is None
            ret["result"] = True if in_place else None
            ret["comment"] = (f"board {name} is already {verb}" if in_place
                              else f"board {name} would be {verb}")
            if not in_place:
                ret["changes"] = {verb: name}
            return ret
        done = __salt__["jetson_nfs.export" if want_exported else "jetson_nfs.unexport"](name)
    except SaltInvocationError as err:
        ret["comment"] = f"invalid request: {err}"
        return ret
    except CommandExecutionError as err:
        ret["comment"] = f"board {name} could not be {verb}: {err}"
        return ret
    ret["result"] = True
    if done["changes"]:
        ret["changes"] = dict(done["changes"])
        ret["comment"] = f"board {name} {verb} ({done['path']})"
    else:
        ret["comment"] = f"board {name} is already {verb}"
    if done["warnings"]:
        ret["warnings"] = list(done["warnings"])
    return ret


def present(name):
    """Ensure the board ``name``'s nfsroot is exported to its site's clients.

    name
        The board's name in the ``jetson`` pillar.
    """
    return _apply(name, want_exported=True)


def absent(name):
    """Ensure the board ``name``'s nfsroot is exported to nobody.

    name
        The board's name in the ``jetson`` pillar.
    """
    return _apply(name, want_exported=False)
