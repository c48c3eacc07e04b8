{#- The master's answer to a site server's jetson/site/enroll event (fired by
    `state.apply jetson.site`). The event is only a prompt: in the `events` form of
    event.fire_master any minion writes data['id'] and the boards. jetson.enroll_site asks the
    site minion that pillar names for its pending-enrolment record (written by the site state
    before it fires) and accepts only the boards it lists and pillar gives to that site, with
    the public key it fetches from that site itself; no record, nothing enrolled.
    Wire it in the master config (docs/admin-guide.md, "Adding a board"):
      reactor:
        - 'jetson/site/enroll':
          - /path/to/jetson_farm/salt_tree/reactor/jetson_site_enroll.sls #}
jetson-site-enroll:
  runner.jetson.enroll_site:
    - args:
      - site_minion: {{ data['id'] | tojson }}
      - boards: {{ data.get('data', {}).get('boards', []) | tojson }}
