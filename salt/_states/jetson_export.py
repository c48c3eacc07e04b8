"""State: a board's nfsroot is exported (``present``) or exported to nobody (``absent``).

.. code-block:: yaml

    jtk1-exported:
      jetson_export.present:
        - name: jtk1

Built on the ``jetson_nfs`` execution module; honours ``test=True``.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jetson_export"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    if "jetson_nfs.export" not in __salt__:
        return False, "jetson_export needs the jetson_nfs execution module"
    return __virtualname__


def _apply(name, want_exported):
    ret = {"name": name, "result": False, "changes": {}, "comment": ""}
    verb = "exported" if want_exported else "unexported"
    test = bool(__opts__["test"])
    try:
        done = __salt__["jetson_nfs.export" if want_exported else "jetson_nfs.unexport"](name, test=test)
    except SaltInvocationError as err:
        ret["comment"] = f"invalid request: {err}"
        return ret
    except CommandExecutionError as err:
        ret["comment"] = f"board {name} could not be {verb}: {err}"
        return ret
    if done["warnings"]:
        ret["warnings"] = list(done["warnings"])
    if not done["changes"]:
        ret.update(result=True, comment=f"board {name} is already {verb}")
    elif test:
        ret.update(result=None, changes=dict(done["changes"]),
                   comment=f"board {name} would be {verb} ({done['path']})")
    else:
        ret.update(result=True, changes=dict(done["changes"]),
                   comment=f"board {name} {verb} ({done['path']})")
    return ret


def present(name):
    """Ensure the board ``name``'s nfsroot is exported to the board's own ip, and to nobody else.

    CLI Example:

    .. code-block:: bash

        salt site01 state.single jetson_export.present name=jtk1

    name
        The board's name in the ``jetson`` pillar.
    """
    return _apply(name, want_exported=True)


def absent(name):
    """Ensure the board ``name``'s nfsroot is exported to nobody.

    CLI Example:

    .. code-block:: bash

        salt site01 state.single jetson_export.absent name=jtk1

    name
        The board's name in the ``jetson`` pillar.
    """
    return _apply(name, want_exported=False)
