"""End to end on real NFS boots: a booking in Radicale becomes a QEMU board running the booked image.

The lab's VM board jvm1 (tests/lab_fixture.py ``vm_lab``) boots a Debian kernel whose root is
its nfsroot on the lab's Ganesha; its salt-minion is the image's own. The images are built by
the site's own ``jetson_rootfs.build`` (cached per machine) and differ by one file,
``/etc/jetson-e2e``. Switches go only through the public commands: ``calendar-bridge sync``
and ``salt-run state.orch jetson.switch``.

The lab brings its VM board up off (``--vms-off``): each TCG boot costs a minute or more (two at
once, two minutes), so a board boots only where a case needs it, and each case's last boot is the
next one's start. The broken export switches jvm1 from off, and its rollback leaves jvm1 up on
its default image; the booking then switches that RUNNING board (a reboot and a new NFS
session), and the release boots it back on its default. A case run alone boots what it needs
(:func:`up_on_default`). Two bookings in one run switching two boards side by side are the
integration tier's (tests/integration/test_bridge_e2e.py, on the lab's process boards).
"""

import json
import pathlib
import subprocess
from datetime import UTC, datetime, timedelta

from calendar_bridge.writeback import read_status
from tests.bridge_events import booking_ics
from tests.integration.bridge_env import local_bridge_config, run_sync
from tests.lab_fixture import BIN, vm_lab  # noqa: F401  (the e2e tier's lab)
from tests.smtp_sink import SmtpSink
from tests.switch_helpers import EventWatch
from tests.unit.test_rootfs_helpers import manifest

MARK = "etc/jetson-e2e"
BOOKED = {"jvm1": ("alice", "e2e-red", "red")}
RUNNING = "jvm1"  # where the booking finds it: up on its default image
BUILD_TIMEOUT = 3600
UP_TIMEOUT = 900  # one TCG boot to its minion: about a minute idle, several on a busy machine


def build(lab, image, colour):
    """The image ``image`` with ``/etc/jetson-e2e`` saying ``colour`` (built once per machine)."""
    result = lab.salt(["-t", str(BUILD_TIMEOUT), lab.site, "jetson_rootfs.build", f"image={image}",
                       "files=" + json.dumps({MARK: f"{colour}\n"})], timeout=BUILD_TIMEOUT + 60)
    assert result.returncode == 0, result
    return result.of(lab.site)


def booted(lab, boards, relpath):
    """``{board: (the file as the board's own minion reads it from its NFS root, its
    jetson_marker grain)}``: one job for all the boards, as each job costs a TCG minion tens of
    seconds before it runs."""
    # --static: one JSON document for all the boards (salt then exits 0 even if one failed: each
    # board's answer is checked below).
    result = lab.salt(["--static", "-t", "120", "-L", ",".join(boards), "cmd.run,grains.get",
                       f"cat /{relpath},jetson_marker"], timeout=240)
    assert result.returncode == 0, result
    seen = {}
    for board in boards:
        answer = result.of(board)
        assert isinstance(answer, dict) and isinstance(answer.get("grains.get"), dict), (board, answer)
        seen[board] = (answer["cmd.run"], answer["grains.get"].get("image"))
    return seen


def tcp_sessions(lab, board):
    """The board's NFS connections as the site sees them (``jetson_nfs.clients``): client ports."""
    result = lab.salt([lab.site, "jetson_nfs.clients", f"board={board}"])
    assert result.returncode == 0, result
    return {entry.get("port") for entry in result.of(lab.site) if entry.get("via") == "tcp"}


def images(lab):
    """``{image: where}`` of the whole store (``store`` or the board it is at)."""
    result = lab.salt([lab.site, "jetson_rootfs.list"])
    assert result.returncode == 0, result
    listed = [(item["image"], item["board"] or "store") for item in result.of(lab.site)]
    assert len(listed) == len({image for image, _ in listed}), f"an image in two places: {listed}"
    return dict(listed)


# Where a board writes its identity (docs/site-layout.md, "What a board leaves in its image"),
# and the files the swap injects: none may differ in a parked image.
IDENTITY_PLACES = ("etc/machine-id", "var/lib/dbus/machine-id", "var/lib/systemd/random-seed",
                   "var/lib/systemd/credential.secret", "etc/ssh/ssh_host_", "etc/salt/pki",
                   "etc/salt/minion_id", "etc/salt/minion.d/jetson.conf", "etc/hostname", "etc/jetson-farm",
                   "root/.ssh")


def slot(lab, image):
    return lab.config.site_root_of(lab.site) / "images" / image


def differences(before, after):
    """``{relpath: (before, after)}`` of two :func:`manifest` results (None: absent)."""
    return {rel: (before.get(rel), after.get(rel)) for rel in sorted(before.keys() | after.keys())
            if before.get(rel) != after.get(rel)}


def assert_no_identity_left(lab, image, before, machine_id):
    """The parked ``image`` differs from ``before`` in no place a board writes its identity, and
    no file it gained or changed holds the machine id its board made."""
    changed = differences(before, manifest(str(slot(lab, image))))
    print(f"{image}: {len(changed)} entries differ after its session:", *changed, sep="\n  ")
    assert not [rel for rel in changed if rel.startswith(IDENTITY_PLACES)], changed
    for rel, (_, now) in changed.items():
        if now and now[0] == "file":
            assert machine_id not in (slot(lab, image) / rel).read_bytes(), rel


def console(lab, board):
    return (lab.config.run_dir(board) / "console.log").read_text(errors="replace")


def test_an_export_broken_after_the_swap_ends_in_rollback_and_quarantine(vm_lab):  # noqa: F811
    lab, board = vm_lab, "jvm1"
    user, name, colour = BOOKED[board]
    build(lab, f"{user}/{name}", colour)
    default = lab.pillar["boards"][board]["image"]
    before = images(lab)
    assert before[default] == board, f"{board} is not on its default image {default}: {before}"
    export = f"jetson/switch/{board}/export"
    watch = EventWatch(lab, prefixes=(export,))  # listening once made
    orch = subprocess.Popen(
        [str(BIN / "salt-run"), "-c", str(lab.master_dir), "--out=json", "state.orch", "jetson.switch",
         "pillar=" + json.dumps({"board": board, "image": f"{user}/{name}"})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        watch.wait_for(export, timeout=900)
        # The farm has swapped and exported; the board is being powered on. Take the export away.
        broken = lab.salt([lab.site, "jetson_nfs.unexport", board])
        assert broken.returncode == 0, broken
        # The kernel panics without its root and QEMU exits: the switch sees the power off and
        # rolls back at once, long before the board's boot_timeout (900 s in the lab's pillar).
        out, _ = orch.communicate(timeout=1500)
        assert orch.returncode != 0, out[-5000:]
        assert f"{board} failed to boot {user}/{name}: its power went off" in out, out[-5000:]
        status = lab.salt_run(["jetson.status"]).data[board]
        assert (status["state"], status["image"]) == ("quarantined", default), status
        assert images(lab) == before  # the booked image back in alice's slot, none lost
        assert "jetson-farm: no NFSv4 root" in "".join(
            p.read_text(errors="replace") for p in (lab.config.run_dir(board) / "console").glob("boot-*.log"))
        # The next case starts from this boot. No ping first: booted() is the first job, and each
        # job costs a TCG minion tens of seconds.
        lab.wait_for(lambda: lab.status(board)["minion"] == "ready", f"{board}'s minion starting", UP_TIMEOUT)
        assert booted(lab, [board], "etc/jetson-image") == {board: ("vm-base", default)}
    finally:
        watch.close()
        if orch.poll() is None:
            orch.kill()
            orch.communicate()
        lab.salt_run(["jetson.unquarantine", f"board={board}"])


def up_on_default(lab, board):
    """``board`` up on its default image: as the case before left it, else booted now."""
    if lab.status(board)["minion"] != "ready":
        lab.power(board, "on")
        lab.wait_up(board, timeout=UP_TIMEOUT)


def test_bookings_tonight_boot_the_booked_images_over_nfs(vm_lab, radicale, tmp_path):  # noqa: F811
    lab = vm_lab
    for user, name, colour in BOOKED.values():
        build(lab, f"{user}/{name}", colour)
    up_on_default(lab, RUNNING)
    before = {image: manifest(str(slot(lab, image))) for image in (f"{u}/{n}" for u, n, _ in BOOKED.values())}
    old_sessions = {board: tcp_sessions(lab, board) for board in BOOKED}
    assert old_sessions[RUNNING], old_sessions
    boots = {board: lab.status(board)["boots"] for board in BOOKED}
    with SmtpSink() as sink:
        config = local_bridge_config(tmp_path / "bridge.yaml", radicale, lab, sink, tmp_path, timeout=1500)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        end = start + timedelta(hours=2)
        urls = {}
        for board, (user, name, _) in BOOKED.items():
            urls[board] = f"{radicale.make_calendar(user, 'boards')}{board}.ics"
            radicale.put(urls[board], booking_ics(f"tonight-{board}", start, end, summary=f"{board} {name}"),
                         user=user)
        code, run, stderr = run_sync(config, timeout=1800)
        assert code == 0, stderr[-20000:] + json.dumps(run, indent=1)
        assert sorted(run["plan"]["switch"]) == sorted(BOOKED)
        assert {o["key"].split("|")[1]: o["status"] for o in run["outcomes"]} == {
            f"tonight-{board}": "ready" for board in BOOKED}
        for board, (user, _, _) in BOOKED.items():
            assert lab.status(board)["boots"] > boots[board], f"{board} did not reboot"
            new_sessions = tcp_sessions(lab, board)
            assert new_sessions and not new_sessions & old_sessions[board], (old_sessions, new_sessions)
            assert "jetson-farm: NFSv4 root" in console(lab, board)
            text, _ = radicale.get(urls[board], user=user)
            assert read_status(text, f"tonight-{board}", "", UTC) == ("ready", "")
        assert booted(lab, list(BOOKED), MARK) == {
            board: (colour, f"{user}/{name}") for board, (user, name, colour) in BOOKED.items()}
        machine_ids = {board: identity_in_use(lab, board) for board in BOOKED}

        code, run, stderr = run_sync(config, "--now", (end + timedelta(minutes=1)).isoformat(), timeout=1800)
    assert code == 0, stderr[-20000:] + json.dumps(run, indent=1)
    assert run["plan"]["release"] == sorted(BOOKED)
    where = images(lab)
    for board, (user, name, _) in BOOKED.items():
        default = lab.pillar["boards"][board]["image"]
        assert (where[default], where[f"{user}/{name}"]) == (board, "store")
    assert booted(lab, list(BOOKED), "etc/jetson-image") == {
        board: ("vm-base", lab.pillar["boards"][board]["image"]) for board in BOOKED}
    for board, (user, name, _) in BOOKED.items():
        assert_no_identity_left(lab, f"{user}/{name}", before[f"{user}/{name}"], machine_ids[board])


def identity_in_use(lab, board):
    """The machine id ``board`` made in the image it runs; its host keys checked to be its own."""
    root = pathlib.Path(lab.nfsroot(board))
    machine_id = (root / "etc/machine-id").read_bytes().strip()
    assert len(machine_id) == 32, machine_id  # the board made its own, as the next one must too
    identity = lab.config.site_root_of(lab.site) / "boards" / board / "identity"
    keys = sorted(identity.glob("ssh_host_*"))
    assert len(keys) == 6, keys  # ed25519, ecdsa, rsa: enrolment made them
    for key in keys:
        assert (root / "etc/ssh" / key.name).read_bytes() == key.read_bytes(), key.name
    return machine_id
