#!/usr/bin/env bash
# The farm's story on VM boards that really boot Linux over NFS (./scripts/demo.sh --vm):
# a lab with two QEMU boards (jvm1, jvm2) booting a Debian image built by the site server
# (jetson_rootfs.build, cached in /var/cache/jetson-farm), two images that differ by one file,
# a switch of both boards by hand, what each board now says, the serial console lines of the
# kernel mounting its NFS root, and a release. Each step prints its time. A job on a TCG board's
# fresh minion waits tens of seconds before it runs (Salt rebuilds its loaders per job): -t 300.
# Stop the farm with: .venv/bin/jetson-lab down --dir "$JETSON_DEMO_VM_DIR"
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

DIR=${JETSON_DEMO_VM_DIR:-/var/tmp/jetson-farm-demo-vm}
BIN=.venv/bin
ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(ms)
step() { printf '\n\033[1m=== %s\033[0m\n' "$*"; STEP_START=$(ms); }
took() { local now; now=$(ms); printf '    (step: %d.%d s; since the start: %d s)\n' \
    $(( (now - STEP_START) / 1000 )) $(( (now - STEP_START) % 1000 / 100 )) $(( (now - T0) / 1000 )); }
show() { printf '$ %s\n' "$*"; "$@"; }
salt_run() { show "$BIN/salt-run" -c "$DIR/master" -l quiet "$@"; }
salt_site() { show "$BIN/salt" -c "$DIR/master" -l quiet site01 "$@"; }
console() {
    for board in jvm1 jvm2; do
        echo "--- $board, serial console (seconds after power-on):"
        grep -E "jetson-farm: NFSv4|Reached target.*Multi-User|Minion is ready" "$DIR/run/$board/console.log" || true
    done
}

step "1. A farm with two QEMU boards booting Debian over NFSv4 (TCG: minutes on 2 cores)"
show "$BIN/jetson-lab" up --dir "$DIR" --boards 1 --vm-boards 2
show "$BIN/jetson-lab" status --dir "$DIR"
console
took

step "2. Two images built from scratch by the site server (debootstrap; cached after the first)"
salt_site -t 3600 jetson_rootfs.build image=alice/vm-red files='{"etc/jetson-demo": "red\n"}'
salt_site -t 3600 jetson_rootfs.build image=bob/vm-blue files='{"etc/jetson-demo": "blue\n"}'
took

step "3. Switch both boards at once: power off, unexport, swap by rename, export, boot over NFS"
salt_run state.orch jetson.switch --state-output=terse_id \
    pillar='{"boards": {"jvm1": "alice/vm-red", "jvm2": "bob/vm-blue"}}'
salt_run jetson.status
show "$BIN/salt" -c "$DIR/master" -l quiet -t 300 'jvm*' cmd.run 'cat /etc/jetson-demo; findmnt -n -o SOURCE,FSTYPE,OPTIONS /'
console
took

step "4. Release both boards to their default images"
salt_run state.orch jetson.release --state-output=terse_id pillar='{"boards": ["jvm1", "jvm2"]}'
show "$BIN/salt" -c "$DIR/master" -l quiet -t 300 'jvm*' cmd.run 'cat /etc/jetson-image'
took

step "Done in $(( ($(ms) - T0) / 1000 )) s. The farm keeps running; stop it with: $BIN/jetson-lab down --dir $DIR"
