# The users of this site server and its SSH jump host (docs/inventory.md, "Users").
#   salt site01 state.apply jetson.site        (site.sls includes this file)
# Only when pillar jetson:sites:<site>:jump_host:enabled is true: for each pillar user an account
# of the group (shell /bin/sh, for sshd's ForceCommand), exactly their pillar keys in a root-owned
# file, and an empty image slot; sshd keys only, the group forced to jetson-image and forwarding
# to this site's boards only; users who left pillar retired into the attic, never deleted.
{%- set plan = salt['jetson_users.plan']() %}
{%- if plan.get('error') %}

jetson-users:
  jetson_users.refused:
    - name: jetson-users
    - reason: {{ plan.error | json }}
{%- elif plan.enabled %}

jetson-users-group:
  group.present:
    - name: {{ plan.group }}
    - system: True

jetson-users-keys-dir:
  file.directory:
    - name: {{ plan.keys_dir }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True
{%- for name, user in plan.users | dictsort %}
{%- if user.error %}

jetson-user-{{ name }}:
  jetson_users.refused:
    - name: {{ name }}
    - reason: {{ user.error | json }}
{%- else %}

jetson-user-{{ name }}-slot:
  file.directory:
    - name: {{ user.slot }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

jetson-user-{{ name }}:
  user.present:
    - name: {{ name }}
    - gid: {{ plan.group }}
    - usergroup: False
    - remove_groups: False
    - home: {{ user.slot }}
    - createhome: False
    - shell: /bin/sh
    - system: True
    - password: '*'
    - expire: -1
    - require:
      - group: jetson-users-group
      - file: jetson-user-{{ name }}-slot

jetson-user-{{ name }}-keys:
  file.managed:
    - name: {{ user.keys_file }}
    - contents: {{ user['keys'] | json }}
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - file: jetson-users-keys-dir
{%- endif %}
{%- endfor %}
{%- for name in plan.previous %}

jetson-user-{{ name }}-retired:
  jetson_users.retired:
    - name: {{ name }}
{%- endfor %}

jetson-users-sudo-rule:
  file.managed:
    - name: {{ plan.sudoers }}
    - contents: {{ plan.sudoers_text | json }}
    - user: root
    - group: root
    - mode: '0440'
    - makedirs: True
    - check_cmd: /usr/sbin/visudo -cf

jetson-users-site-config:
  file.managed:
    - name: {{ plan.site_config }}
    - contents: {{ plan.site_config_text | json }}
    - user: root
    - group: root
    - mode: '0600'
    - makedirs: True

jetson-users-sshd:
  file.managed:
    - name: {{ plan.sshd_config }}
    - contents: {{ plan.sshd | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
    - check_cmd: /usr/sbin/sshd -t -f
{%- if plan.sshd_service %}

jetson-users-sshd-service:
  service.running:
    - name: {{ plan.sshd_service }}
    - enable: True
    - reload: True
    - watch:
      - file: jetson-users-sshd
{%- endif %}
{%- endif %}
