# Give the inventory to the master's runners and the site servers only: boards are untrusted
# minions (DESIGN.md rule 6) and get no pillar from here.
base:
  'site*':
    - jetson
