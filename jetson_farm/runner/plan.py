"""What an orchestration was asked for (switch.sls, release.sls; the runner ``jetson.run``).

The pillar argument of ``state.orch jetson.switch`` comes in three forms::

    {"board": "jtk1", "image": "alice/cuda-dev", "user": "alice"}      # user optional
    {"boards": {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}}
    {"boards": {"jtk1": {"image": "alice/cuda-dev", "user": "alice"}}}  # the calendar bridge's

and ``state.orch jetson.release`` takes ``{"board": "jtk1"}`` or ``{"boards": ["jtk1", "jtk2"]}``.
The shape and the names are checked here, before anything runs; whether the board, user and
image exist and may go together is step 0 (lease), per board, so one bad booking fails alone.
The switch itself is jetson_farm/switch.py.
"""

from jetson_farm.errors import JetsonError
from jetson_farm.names import check_name, parse_image


class BadRequest(JetsonError, ValueError):
    """The orchestration's pillar argument is malformed."""


SWITCH_USAGE = ("pass pillar='{\"board\": \"jtk1\", \"image\": \"alice/cuda-dev\"}' or "
                "pillar='{\"boards\": {\"jtk1\": \"alice/cuda-dev\"}}'")
RELEASE_USAGE = "pass pillar='{\"board\": \"jtk1\"}' or pillar='{\"boards\": [\"jtk1\", \"jtk2\"]}'"


def _request(board, spec, where):
    check_name("board", board)
    if isinstance(spec, str):
        spec = {"image": spec}
    if not isinstance(spec, dict):
        raise BadRequest(f"{where}: expected an image 'user/name' or a mapping with 'image', got {spec!r}")
    unknown = set(spec) - {"image", "user"}
    if unknown:
        raise BadRequest(f"{where}: unknown key(s) {sorted(unknown)}; only 'image' and 'user' are allowed")
    if "image" not in spec:
        raise BadRequest(f"{where}: no image given; {SWITCH_USAGE}")
    owner, _ = parse_image(spec["image"])
    user = spec.get("user") or owner
    check_name("user", user)
    return {"board": board, "image": spec["image"], "user": user}


def switch_requests(pillar):
    """The boards to switch, as ``[{"board", "image", "user"}]`` sorted by board; BadRequest else."""
    if not isinstance(pillar, dict):
        raise BadRequest(f"the pillar argument must be a mapping; {SWITCH_USAGE}")
    if "boards" in pillar:
        if "board" in pillar or "image" in pillar:
            raise BadRequest("give either 'boards' or 'board'/'image', not both")
        boards = pillar["boards"]
        if not isinstance(boards, dict) or not boards:
            raise BadRequest(f"'boards' must be a non-empty mapping of board to image; {SWITCH_USAGE}")
        return [_request(board, spec, f"boards.{board}") for board, spec in sorted(boards.items())]
    if "board" not in pillar:
        raise BadRequest(f"no board given; {SWITCH_USAGE}")
    spec = {key: pillar[key] for key in ("image", "user") if key in pillar}
    return [_request(pillar["board"], spec, "the request")]


def release_requests(pillar):
    """The boards to release, sorted; BadRequest else."""
    if not isinstance(pillar, dict):
        raise BadRequest(f"the pillar argument must be a mapping; {RELEASE_USAGE}")
    if "boards" in pillar:
        boards = pillar["boards"]
        if isinstance(boards, dict):
            boards = list(boards)
        if not isinstance(boards, list) or not boards:
            raise BadRequest(f"'boards' must be a non-empty list of boards; {RELEASE_USAGE}")
    elif "board" in pillar:
        boards = [pillar["board"]]
    else:
        raise BadRequest(f"no board given; {RELEASE_USAGE}")
    return [{"board": check_name("board", board)} for board in sorted(set(boards))]
