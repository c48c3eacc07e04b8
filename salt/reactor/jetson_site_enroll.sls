{#- The master's answer to a site server's jetson/site/enroll event (fired by
    `state.apply jetson.site`): enroll the boards it names. data['id'] is the sender's minion id,
    authenticated by the master; jetson.enroll_site accepts only boards that pillar gives to the
    site whose minion that is, with the public key it fetches from that site itself.
    Wire it in the master config (docs/admin-guide.md, "Adding a board"):
      reactor:
        - 'jetson/site/enroll':
          - /path/to/jetson_farm/salt_tree/reactor/jetson_site_enroll.sls #}
jetson-site-enroll:
  runner.jetson.enroll_site:
    - args:
      - site_minion: {{ data['id'] | tojson }}
      - boards: {{ data.get('data', {}).get('boards', []) | tojson }}
