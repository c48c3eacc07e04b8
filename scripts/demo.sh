#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run a whole local farm and show it working:
# a salt-master, the site server site01, NFS-Ganesha and two virtual boards (real salt-minions
# in their own network namespaces, booting their identity over NFS); a parallel switch by hand;
# a release; then one nightly run of the calendar bridge against a local Radicale.
# Safe to run twice. Stop the farm with: .venv/bin/jetson-lab down --dir "$JETSON_DEMO_DIR"
# With --vm: the same story on QEMU boards that boot Linux over NFS (scripts/demo_vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--vm" ]; then
    exec ./scripts/demo_vm.sh
fi
./scripts/setup.sh

DIR=${JETSON_DEMO_DIR:-/var/tmp/jetson-farm-demo}
BIN=.venv/bin
step() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
salt_run() { show "$BIN/salt-run" -c "$DIR/master" -l quiet "$@"; }
salt_site() { show "$BIN/salt" -c "$DIR/master" -l quiet site01 "$@"; }

step "1. A whole local farm: salt-master, site server, NFS-Ganesha, two virtual boards"
show "$BIN/jetson-lab" up --dir "$DIR" --boards 2
show "$BIN/jetson-lab" status --dir "$DIR"

step "2. The site server: the image store and the NFS exports"
salt_site jetson_rootfs.list
salt_site jetson_nfs.exports

step "3. Who runs what, before"
salt_run jetson.status

step "4. Switch both boards at once, by hand: each image moves in by rename, never a copy"
salt_run state.orch jetson.switch --state-output=terse_id \
    pillar='{"boards": {"jtk1": "alice/cuda-dev", "jtk2": "bob/ros"}}'
salt_run jetson.status
show "$BIN/salt" -c "$DIR/master" 'jtk*' grains.get jetson_marker
salt_site jetson_rootfs.state

step "5. Release both boards to their default images"
salt_run state.orch jetson.release --state-output=terse_id pillar='{"boards": ["jtk1", "jtk2"]}'
salt_run jetson.status

step "6. The nightly run: bookings in a CalDAV calendar become switches"
show "$BIN/python" scripts/bridge_demo.py --lab-dir "$DIR"

step "Done. The farm keeps running; stop it with: $BIN/jetson-lab down --dir $DIR"
