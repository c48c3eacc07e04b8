{#- Orchestration: give boards back (their default image, or powered off and empty).

    salt-run state.orch jetson.release pillar='{"board": "jtk1"}'
    salt-run state.orch jetson.release pillar='{"boards": ["jtk1", "jtk2"]}'

The same steps as jetson.switch; the image is the board's ``image`` in pillar (defaults.image),
and a board without one is parked: unexported, its nfsroot emptied, powered off where it can be. #}
jetson-release:
  jetson_boards.released:
    - board: {{ pillar.get("board") | json }}
    - boards: {{ pillar.get("boards") | json }}
    - stagger: {{ pillar.get("stagger", 0) | json }}
