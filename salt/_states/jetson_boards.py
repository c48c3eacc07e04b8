"""State module ``jetson_boards``: the one state of the orchestrations ``jetson.switch`` and
``jetson.release``.

A thin door: it hands the request to the runner ``jetson.run`` (which switches every board side
by side in this process, jetson_farm/switch.py) and turns its per-board answer into one state
whose comment has one line per board. The state fails if any board failed.
"""

import os

import salt.config
import salt.runner
import salt.utils.user

from jetson_farm.errors import JetsonError
from jetson_farm.runner.plan import release_requests, switch_requests

__virtualname__ = "jetson_boards"
__jetson_farm_version__ = "0.1.0"  # jetson_farm.__version__: a stale synced copy shows (versions.py)


def __virtual__():
    return __virtualname__


def _asked(**values):
    return {key: value for key, value in values.items() if value is not None}


def _run_engine(kwarg):
    """``jetson.run`` through a runner client of this master, destroyed after the call.

    As ``saltutil.runner`` does, but its client is not left for the garbage collector.
    """
    try:
        user = __user__  # a loader dunder of the orchestration
    except NameError:
        user = "UNKNOWN"
    opts = __opts__
    if "master_job_cache" not in opts:  # not the master's own opts: read them, as saltutil.runner does
        opts = salt.config.master_config(os.path.join(os.path.dirname(opts["conf_file"]), "master"))
    # state.orch sets opts["user"] to its caller, salt-api's eauth user (e.g. ``bridge``), whose
    # master key does not exist: the engine's LocalClient would read none and every publish fail
    # "Authentication error occurred.". The engine publishes as the master, the user this runs as.
    opts = dict(opts, user=salt.utils.user.get_user())
    client = salt.runner.RunnerClient(opts)
    try:
        # Without the caller's user, the engine's LocalClient finds no key to publish with.
        return client.cmd("jetson.run", kwarg=kwarg, pub_data={"user": user}, print_event=False,
                          full_return=True)
    finally:
        client.destroy()


def _run(name, kind, requests_of, asked, stagger):
    ret = {"name": name, "changes": {}, "result": False, "comment": ""}
    try:
        requests = requests_of(asked)
    except JetsonError as err:
        ret["comment"] = f"bad jetson.{kind} request, nothing was changed: {err}"
        return ret
    if __opts__.get("test"):
        ret["result"] = None
        ret["comment"] = "\n".join(f"{r['board']}: would be {kind}ed"
                                   + (f" to {r['image']} for {r['user']}" if r.get("image") else "")
                                   for r in requests)
        return ret
    out = _run_engine({"kind": kind, "stagger": stagger, **asked})
    answer = out.get("return") if isinstance(out, dict) else None
    boards = answer.get("boards") if isinstance(answer, dict) else None
    if not isinstance(boards, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        ret["comment"] = error or f"jetson.run gave no board report: {str(answer)[:500]}"
        return ret
    shown = ("board", "result", "comment", "error", "image", "user", "switch_id")
    ret["changes"] = {board: {key: report[key] for key in shown if key in report}
                      for board, report in sorted(boards.items())}
    ret["result"] = all(report.get("result") for report in boards.values())
    ret["comment"] = "\n".join(
        f"{board}: {'ok' if report.get('result') else 'FAILED'}: {report.get('comment')}"
        for board, report in sorted(boards.items()))
    if "jid" in out:
        ret["__jid__"] = out["jid"]
    return ret


def switched(name, board=None, image=None, user=None, boards=None, stagger=0):
    """Switch boards to images now (runner ``jetson.run kind=switch``).

    .. code-block:: yaml

        jetson-switch:
          jetson_boards.switched:
            - boards: {"jtk1": "alice/cuda-dev", "jtk2": {"image": "bob/ros", "user": "bob"}}

    board, image, user
        One board, its image ``user/name`` and who it is for (default: the image's owner).
    boards
        Several boards: a mapping of board to image or to ``{"image", "user"}``.
    stagger
        Seconds between two boards' power-on (default 0).
    """
    return _run(name, "switch", switch_requests, _asked(board=board, image=image, user=user, boards=boards),
                stagger)


def released(name, board=None, boards=None, stagger=0):
    """Give boards back: their default image, or parked (runner ``jetson.run kind=release``).

    .. code-block:: yaml

        jetson-release:
          jetson_boards.released:
            - boards: ["jtk1", "jtk2"]

    board
        One board.
    boards
        A list of boards.
    stagger
        Seconds between two boards' power-on (default 0).
    """
    return _run(name, "release", release_requests, _asked(board=board, boards=boards), stagger)
