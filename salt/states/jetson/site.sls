# The site server: its NFS server, its image store and its boards (jetson/boards.sls).
#   salt site01 state.apply jetson.site
# The store and every nfsroot of the site must share one file system (a swap is a rename);
# jetson_site.prepared refuses otherwise, and makes the store's folders with their owners and
# modes. Exports are made here only for idle, unparked boards: see jetson/boards.sls for why
# that cannot race a switch.
{%- set jetson = salt['pillar.get']('jetson', {}) %}
{%- set site = (jetson.get('sites', {}).values() | selectattr('minion', 'equalto', grains['id']) | list | first) or {} %}
{%- set backend = site.get('nfs', {}).get('backend', 'kernel') %}

jetson-nfs-server:
  pkg.installed:
    - pkgs:
{%- if backend == 'ganesha' %}
      - nfs-ganesha
      - nfs-ganesha-vfs
      - dbus
{%- else %}
      - nfs-kernel-server
{%- endif %}

jetson-store:
  jetson_site.prepared:
    - require:
      - pkg: jetson-nfs-server

include:
  - jetson.boards
  - jetson.users
