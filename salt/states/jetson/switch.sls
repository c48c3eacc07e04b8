#!py
"""Orchestration: switch boards to images (DESIGN.md "The switch, step by step").

    salt-run state.orch jetson.switch pillar='{"board": "jtk1", "image": "alice/cuda-dev"}'
    salt-run state.orch jetson.switch pillar='{"boards": {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}}'
    salt-run state.orch jetson.switch pillar='{"boards": {"jtk1": {"image": "alice/cuda-dev", "user": "alice"}}}'

Per board, steps 0-8 are ``salt.runner jetson.step`` states with ``parallel: True``, each
requiring the one before: boards switch side by side, a failed board stops only its own chain.
"""

from jetson_farm.errors import JetsonError
from jetson_farm.runner.plan import chain, switch_requests


def run():
    try:
        return chain(switch_requests(dict(__pillar__)), "switch")
    except JetsonError as err:
        return {"jetson-switch-request": {"test.fail_without_changes": [
            {"name": f"bad jetson.switch request, nothing was changed: {err}"}]}}
