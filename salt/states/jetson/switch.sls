{#- Orchestration: switch boards to images (docs/architecture.md, "The switch, step by step").

    salt-run state.orch jetson.switch pillar='{"board": "jtk1", "image": "alice/cuda-dev"}'
    salt-run state.orch jetson.switch pillar='{"boards": {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}}'
    salt-run state.orch jetson.switch pillar='{"boards": {"jtk1": {"image": "alice/cuda-dev", "user": "alice"}}}'

One state: the runner jetson.run switches every board side by side in this process
(jetson_farm/switch.py). Its comment has one line per board; it fails if any board failed. #}
jetson-switch:
  jetson_boards.switched:
    - board: {{ pillar.get("board") | json }}
    - image: {{ pillar.get("image") | json }}
    - user: {{ pillar.get("user") | json }}
    - boards: {{ pillar.get("boards") | json }}
    - stagger: {{ pillar.get("stagger", 0) | json }}
