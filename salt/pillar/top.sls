# Give the inventory to the master's runners and the site servers only: boards are untrusted
# minions (docs/architecture.md, "Rules no part may break", rule 6) and get no pillar from here.
base:
  'site*':
    - jetson
