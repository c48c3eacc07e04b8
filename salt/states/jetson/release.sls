#!py
"""Orchestration: give boards back (their default image, or powered off and empty).

    salt-run state.orch jetson.release pillar='{"board": "jtk1"}'
    salt-run state.orch jetson.release pillar='{"boards": ["jtk1", "jtk2"]}'

The same steps as jetson.switch; the image is the board's ``image`` in pillar (defaults.image),
and a board without one is parked: unexported, its nfsroot emptied, powered off where it can be.
"""

from jetson_farm.errors import JetsonError
from jetson_farm.runner.plan import chain, release_requests


def run():
    try:
        return chain(release_requests(dict(__pillar__)), "release")
    except JetsonError as err:
        return {"jetson-release-request": {"test.fail_without_changes": [
            {"name": f"bad jetson.release request, nothing was changed: {err}"}]}}
