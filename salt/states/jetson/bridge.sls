{#- The calendar bridge on the Salt master: its configuration, its secrets and a systemd timer.

    salt-call state.apply jetson.bridge        (on the master, which is also a minion)

Pillar ``jetson_bridge`` (give it to the master's minion only: boards are untrusted, rule 6):

    jetson_bridge:
      command: /opt/jetson-farm/.venv/bin/calendar-bridge
      schedule: "*-*-* 01:00:00"          # systemd OnCalendar; e.g. "*:0/5" with lead_time: 10m
      caldav_password: ...                 # written to /etc/jetson-farm/caldav.secret (0600)
      salt_api_password: ...               # optional, for salt.mode api
      config:                              # calendar_bridge's YAML, see docs/bridge-admin.md
        caldav: {url: https://dav.example.org/, username: bridge,
                 password_file: /etc/jetson-farm/caldav.secret}
        calendar_template: "{user}/boards/"
        salt: {mode: local, master_config: /etc/salt/master}
        inventory: {salt_minion: site01}
        smtp: {host: localhost, from: jetson-farm@example.org}
        ledger: /var/lib/jetson-farm/bridge.sqlite
-#}
{%- set bridge = salt['pillar.get']('jetson_bridge', {}) %}
{%- set command = bridge.get('command', '/opt/jetson-farm/.venv/bin/calendar-bridge') %}
{%- set schedule = bridge.get('schedule', '*-*-* 01:00:00') %}

jetson-bridge-config-dir:
  file.directory:
    - name: /etc/jetson-farm
    - user: root
    - group: root
    - mode: '0750'

jetson-bridge-state-dir:
  file.directory:
    - name: /var/lib/jetson-farm
    - user: root
    - group: root
    - mode: '0750'

jetson-bridge-config:
  file.serialize:
    - name: /etc/jetson-farm/bridge.yaml
    - dataset: {{ bridge.get('config', {}) | json }}
    - serializer: yaml
    - user: root
    - group: root
    - mode: '0600'
    - require:
      - file: jetson-bridge-config-dir

{%- for secret in ('caldav_password', 'salt_api_password', 'smtp_password') %}
{%- if bridge.get(secret) %}
jetson-bridge-{{ secret }}:
  file.managed:
    - name: /etc/jetson-farm/{{ secret.replace('_password', '') }}.secret
    - contents_pillar: jetson_bridge:{{ secret }}
    - show_changes: False
    - user: root
    - group: root
    - mode: '0600'
    - require:
      - file: jetson-bridge-config-dir
{%- endif %}
{%- endfor %}

jetson-bridge-service:
  file.managed:
    - name: /etc/systemd/system/jetson-bridge.service
    - mode: '0644'
    - contents: |
        [Unit]
        Description=jetson-farm calendar bridge: bookings to switches and releases
        After=network-online.target salt-master.service
        Wants=network-online.target

        [Service]
        Type=oneshot
        ExecStart={{ command }} --config /etc/jetson-farm/bridge.yaml sync
        TimeoutStartSec=3600

jetson-bridge-timer:
  file.managed:
    - name: /etc/systemd/system/jetson-bridge.timer
    - mode: '0644'
    - contents: |
        [Unit]
        Description=Run the jetson-farm calendar bridge

        [Timer]
        OnCalendar={{ schedule }}
        Persistent=true

        [Install]
        WantedBy=timers.target

jetson-bridge-systemd-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: jetson-bridge-service
      - file: jetson-bridge-timer

jetson-bridge-timer-running:
  service.running:
    - name: jetson-bridge.timer
    - enable: True
    - require:
      - module: jetson-bridge-systemd-reload
      - file: jetson-bridge-config
    - watch:
      - file: jetson-bridge-timer
