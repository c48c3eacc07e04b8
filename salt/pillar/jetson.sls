# Example inventory: one site server and two Jetson TK1 boards.
# Every name that reaches a path or a command matches ^[a-z0-9][a-z0-9._-]{0,62}$;
# `salt-run jetson.check` names every rule this file breaks. See docs/inventory.md.
jetson:
  master: salt.example.org          # what board minions connect to
  timezone: Europe/Paris            # floating calendar times are read in it
  sites:
    site01:
      minion: site01
      root: /srv/jetson             # images/, boards/, state/ live here (same FS as the nfsroots)
      address: 192.168.137.130      # the site server's address on the boards' segment
      nfs:
        backend: kernel             # or ganesha
        network: 192.168.137.0/24    # each nfsroot is exported to its own board's ip, inside it
        options: [rw, nohide, insecure, no_subtree_check, async, no_root_squash]
      jump_host:
        enabled: true               # accounts per user, sshd keys only, ssh -J to the boards
  defaults:
    image: admin/l4t-r21.8
    boot_timeout: 300
    down_timeout: 120
    power: {driver: salt}
  boards:
    jtk1:
      site: site01
      minion: jtk1
      ip: 192.168.137.131
      mac: "00:04:4b:00:00:01"
      nfsroot: /NFSRoot1            # the path flashed into the board (flash.sh -N server:/NFSRoot1)
      netmask: 255.255.255.0
      gateway: 192.168.137.1
      flash: {target: jetson-tk1, iface: eth0}
      power: {driver: http, cycle: "http://pdu1.lab/cm?cmnd=Power1%20Cycle"}
    jtk2:
      site: site01
      minion: jtk2
      ip: 192.168.137.132
      mac: "00:04:4b:00:00:02"
      nfsroot: /NFSRoot2
      netmask: 255.255.255.0
      gateway: 192.168.137.1
      flash: {target: jetson-tk1, iface: eth0}
  users:
    admin: {email: admin@example.org, admin: true}
    alice: {email: alice@example.org, ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample alice@laptop"], quota_gb: 50}
  images:
    admin/l4t-r21.8: {shared: true, description: "L4T R21.8 sample rootfs"}
