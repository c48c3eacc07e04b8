# The site server: its NFS server and its image store.
#   salt site01 state.apply jetson.site
# The store and every nfsroot of the site must share one file system (a swap is a rename);
# jetson_site.prepared refuses otherwise. Exports are the switch's business, not this state's:
# re-exporting here could race an orchestration that has just unexported a board.
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
