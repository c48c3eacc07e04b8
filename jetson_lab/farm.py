"""A whole local farm in one folder: ``jetson-lab up``, ``status`` and ``down``.

``up`` (idempotent) brings up, in order: the bridge and the boards' namespaces, Ganesha on the
bridge address, the salt-master, the site minion ``site01``, the pillar, the boards'
identities and the seed images, each board's default image at its nfsroot (through
``jetson_rootfs.swap_many`` and ``jetson_nfs.export_many`` on its site), the supervisor, and
powers the boards on. With ``sites=2`` there is a second site server ``site02``: its own minion, store and
Ganesha (on the bridge's second address), serving the second half of the boards. ``down``
stops all of it and removes every namespace, veth and the bridge.
"""

import json
import logging
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from jetson_farm.runner.identity_store import is_complete
from jetson_lab import client, daemons, network, saltconf, seed, vm_farm
from jetson_lab.board import READY_LINE
from jetson_lab.config import SITE_MINION, LabConfig
from jetson_lab.errors import LabError
from jetson_lab.supervisor import ganesha_for

log = logging.getLogger(__name__)

DEFAULT_BASE = "/var/lib/jetson-lab"
READY_TIMEOUT = 120
DEFAULT_BOARDS = 3  # process boards of a new lab when --boards is not given
MAX_SITES = 9  # each site's address is .N on the bridge, below the boards' .11 and up
SEED_SWITCH_ID = "lab-seed"


def lab_dir_for(name=None, directory=None):
    if directory:
        return str(pathlib.Path(directory).resolve())
    return str(pathlib.Path(DEFAULT_BASE) / (name or "demo"))


def board_names(prefix, count, what):
    """``prefix1``..``prefixN`` for ``count`` boards, None for None (not asked); LabError below 0."""
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise LabError(f"the number of {what} must be 0 or more, not {count!r}")
    return [f"{prefix}{i}" for i in range(1, count + 1)]


def load_or_create(lab_dir, boards, name=None, vm_boards=None, sites=None):
    """The lab's config: read from lab.json, or chosen now (tag, free subnet) and written."""
    path = pathlib.Path(lab_dir)
    # None: as before (or the default); 0 is zero (--boards 0 --vm-boards N: a VM-only lab).
    wanted = board_names("jtk", boards, "boards")
    wanted_vms = board_names("jvm", vm_boards, "VM boards")
    if sites is not None and not 1 <= sites <= MAX_SITES:
        raise LabError(f"a lab has 1 to {MAX_SITES} sites, not {sites}")
    if (path / "lab.json").is_file():
        config = LabConfig.read(lab_dir)
        asked = (("boards", wanted), ("vm_boards", wanted_vms), ("sites", sites))
        changes = {key: value for key, value in asked
                   if value is not None and value != getattr(config, key)}
        if changes:
            if _supervisor_pid(config):
                asked = ", ".join(f"{value if key == 'sites' else len(value)} {key.replace('_', ' ')}"
                                  for key, value in changes.items())
                on_sites = f" on {config.sites} sites" if config.sites > 1 or "sites" in changes else ""
                raise LabError(f"lab {config.name} at {lab_dir} is up with {len(config.boards)} boards "
                               f"and {len(config.vm_boards)} VM boards{on_sites}; run jetson-lab down first "
                               f"to change it to {asked}")
            for key, value in changes.items():
                setattr(config, key, value)
            config.write()
        return config
    path.mkdir(parents=True, exist_ok=True)
    tag = network.lab_tag(str(path))
    config = LabConfig(name=name or path.name, dir=str(path),
                       boards=wanted if wanted is not None else board_names("jtk", DEFAULT_BOARDS, "boards"),
                       tag=tag, subnet_octet=network.pick_subnet_octet(tag), vm_boards=wanted_vms or [],
                       sites=sites or 1)
    if not config.all_boards:
        raise LabError("a lab needs at least one board: --boards and --vm-boards are both 0")
    if config.sites > 1 and len(config.boards) < config.sites:  # VM boards all stay on site01
        raise LabError(f"{config.sites} sites need at least {config.sites} boards, not {len(config.boards)}")
    config.write()
    return config


def _pid_file(config, name):
    return config.pid_dir / f"{name}.pid"


def _supervisor_pid(config):
    return daemons.read_pid(_pid_file(config, "supervisor"))


def up(lab_dir, boards=None, name=None, wait=True, vm_boards=None, sites=None, vm_power=True):
    """Bring the lab up (or complete it); a summary dict. ``vm_power=False`` leaves the VM boards
    as they are (off in a new lab): each TCG boot costs a minute or more, and a switch powers a
    board on itself."""
    config = load_or_create(lab_dir, boards, name, vm_boards, sites)
    net = config.network
    network.create_bridge(net, config.sites)
    for index, board in enumerate(config.boards, start=1):
        network.create_board_netns(net, board, index)
        pathlib.Path(config.nfsroot(board)).mkdir(parents=True, exist_ok=True)
    vm_farm.prepare(config)
    saltconf.write_configs(config)
    seed.write_pillar(config, seed.lab_pillar(
        config, {site: ganesha_for(config, site).dbus_address for site in config.site_names}))
    for site in config.site_names:
        accept_site_minion(config, site)
    seed.ensure_images(config)
    if not _supervisor_pid(config):
        # A new supervisor starts with every board off; clear what a dead one may have left.
        for site in config.site_names:
            _kill_stray_ganesha(config.ganesha_dir_of(site))
        _kill_netns_processes(config)
        vm_farm.kill_stray_qemu(config)
    # The supervisor runs the lab's Ganesha, which the site minion's exports need (not its start:
    # the salt daemons start meanwhile).
    log.info("lab %s: starting the supervisor and Ganesha", config.name)
    daemons.start("lab supervisor", [sys.executable, "-m", "jetson_lab.supervisor", config.dir],
                  _pid_file(config, "supervisor"), config.path / "logs" / "supervisor.log")
    drop_synced_copies(config)
    daemons.start("salt-master", [str(saltconf.BIN / "salt-master"), "-c", str(config.master_dir)],
                  _pid_file(config, "master"), config.path / "logs" / "master.out")
    with ThreadPoolExecutor(max_workers=MAX_SITES) as pool:
        list(pool.map(lambda site: start_site_minion(config, site), config.site_names))
    _wait_socket(config.socket_path)
    if config.vm_boards:
        vm_farm.build_images(config, lambda args, timeout: salt(config, args, timeout=timeout))
    log.info("lab %s: enrolling boards", config.name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The site's functions are asked while the runner enrolls: two processes that mostly wait.
        missing = pool.submit(missing_site_functions, config)
        enroll_boards(config)
    log.info("lab %s: placing default images", config.name)
    gaps = place_default_images(config, missing.result())
    powered = [b for b in config.all_boards if vm_power or b not in config.vm_boards]
    log.info("lab %s: powering boards on: %s", config.name, ", ".join(powered))
    for board in powered:
        client.power(config.socket_path, board, "on")
    if wait and powered:
        timeout = vm_farm.VM_READY_TIMEOUT if set(powered) & set(config.vm_boards) else READY_TIMEOUT
        wait_for_boards_ready(config, powered, timeout)
        wait_for_minions(config, powered, timeout)
    return {"lab": config.name, "dir": config.dir, "boards": config.boards, "vm_boards": config.vm_boards,
            "bridge": net.bridge, "address": net.bridge_addr, "gaps": gaps}


def drop_synced_copies(config):
    """Empty the ``extension_modules`` of each lab daemon about to start.

    The lab's master and site minions load this project's modules through the installed
    package's ``salt.loader`` entry point, as a user's do; a copy synced into a lab dir by an
    older lab would come first in Salt's search order and hide it.
    """
    for name, daemon_dir in [("master", config.master_dir),
                             *((site, config.minion_dir(site)) for site in config.site_names)]:
        if not daemons.read_pid(_pid_file(config, name)):
            shutil.rmtree(daemon_dir / "cache" / "extmods", ignore_errors=True)


def accept_site_minion(config, site=SITE_MINION):
    public = saltconf.ensure_key_pair(config.minion_dir(site) / "pki")
    saltconf.accept_key(config, site, public)


def start_site_minion(config, site=SITE_MINION):
    """Start site ``site``'s minion unless it runs; wait until it answers through the master."""
    site_log = config.minion_dir(site) / "log" / "minion"
    site_log_offset = site_log.stat().st_size if site_log.exists() else 0
    site_was_running = bool(daemons.read_pid(_pid_file(config, site)))
    argv = [str(saltconf.BIN / "salt-minion"), "-c", str(config.minion_dir(site))]
    daemons.start(f"site minion {site}", argv, _pid_file(config, site), config.path / "logs" / f"{site}.out")
    log.info("lab %s: waiting for the site minion %s", config.name, site)
    if not site_was_running:
        wait_for_log_line(site_log, site_log_offset, READY_TIMEOUT, f"the site minion {site}")
    wait_for_minions(config, [site], READY_TIMEOUT)


def stop_site_minion(config, site):
    """Stop site ``site``'s minion (a site server that went down); True if it ran."""
    return daemons.stop(f"site minion {site}", _pid_file(config, site), wait=3)


def salt(config, args, timeout=120, static=False):
    """``salt -c <master dir> --out=json ARGS``: (returncode, data, output)."""
    return saltconf.run_cli("salt", config.master_dir, args, timeout=timeout, static=static)


def salt_run(config, args, timeout=120):
    return saltconf.run_cli("salt-run", config.master_dir, args, timeout=timeout)


def wait_for_minions(config, minions, timeout):
    """Until every minion answers test.ping through the master; LabError naming the missing."""
    deadline = time.monotonic() + timeout
    missing = list(minions)
    while True:
        # A VM board answers in seconds at best (TCG): asking faster only queues jobs on it.
        wait = "30" if config.vm_boards else "2"
        try:
            _, data, _ = salt(config, ["-t", wait, "-L", ",".join(missing), "test.ping"], timeout=120,
                              static=True)
        except LabError:  # the CLI itself starved on a loaded machine: ask again until the deadline
            data = None
        answered = {m for m, ok in (data or {}).items() if ok is True}
        missing = [m for m in missing if m not in answered]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise LabError(f"lab {config.name}: minion(s) {', '.join(missing)} not up after {timeout}s "
                           f"(see {config.dir}/run/<board>/log and {config.dir}/logs)")
        time.sleep(0.5)


def wait_for_log_line(path, offset, timeout, what):
    """Until a minion's log shows, past ``offset``, that it takes requests (or it already ran)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                if READY_LINE in handle.read():
                    return
        except OSError:
            pass
        time.sleep(0.2)
    log.info("%s logged no ready line in %ss; asking it directly", what, timeout)


def wait_for_boards_ready(config, boards, timeout):
    """Until the supervisor sees the minion of each of ``boards`` ready (cheaper than pinging
    through Salt)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [row for row in client.boards(config.socket_path)
                   if row["board"] in boards and row["minion"] != "ready"]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise LabError(f"lab {config.name}: board(s) not ready after {timeout}s: "
                           + "; ".join(f"{r['board']} {r['minion']} {r.get('boot_error') or ''}".strip()
                                       for r in waiting))
        time.sleep(0.2)


def enroll_boards(config):
    """Give each board without one a minion key pair, accepted on the master, and its SSH host keys.

    Through the runner, all of them in one call (``salt-run jetson.enroll boards=...``: each pair
    made on its site, its public key accepted on the master) where it exists; else generated here
    and written into the master's pki_dir. Boards keep their identity across ``up``.
    """
    def identity(board):
        return config.site_root_of(config.site_of(board)) / "boards" / board / "identity"

    todo = [b for b in config.all_boards if not is_complete(identity(b))]
    if not todo:
        return
    args = ["jetson.enroll", f"boards={','.join(todo)}"]
    code, _, out = salt_run(config, args, timeout=120 + 30 * len(todo))
    if code != 0 and "'jetson.enroll' is not available" in out:
        seed.ensure_identities(config, todo)
    elif code != 0:
        raise LabError(f"salt-run {' '.join(args)} failed: {out.strip()[-800:]}")


SITE_BATCH_FUNCTIONS = ("jetson_nfs.unexport_many", "jetson_rootfs.swap_many", "jetson_nfs.export_many")


def missing_site_functions(config):
    """Those of :data:`SITE_BATCH_FUNCTIONS` that the site minion lacks."""
    # -t 30: on a busy machine the site minion may take more than the CLI's default 5 s.
    _, data, _ = salt(config, ["-t", "30", SITE_MINION, "sys.list_functions", "jetson_rootfs", "jetson_nfs"])
    functions = set((data or {}).get(SITE_MINION) or [])
    return [f for f in SITE_BATCH_FUNCTIONS if f not in functions]


def place_default_images(config, missing=None):
    """Swap each board's default image onto its empty nfsroot and export it; the gaps, if any.

    One job per site per step (the site modules' ``*_many`` functions), the sites side by side:
    the boards with an empty nfsroot are unexported and get their default image, then every
    board is exported. ``missing``: what :func:`missing_site_functions` said, if asked already.
    """
    if missing is None:
        missing = missing_site_functions(config)
    if missing:
        gap = (f"{', '.join(missing)} not on {SITE_MINION} yet: nfsroots left empty, "
               "boards will not boot until an image is swapped in and exported")
        log.warning("%s", gap)
        return [gap]

    def place(site):
        boards = [b for b in config.all_boards if config.site_of(b) == site]
        empty = [b for b in boards if not any(pathlib.Path(config.nfsroot(b)).iterdir())]
        if empty:
            _site_batch(config, site, "jetson_nfs.unexport_many", empty)
            _site_batch(config, site, "jetson_rootfs.swap_many", [
                {"board": b, "switch_id": SEED_SWITCH_ID,
                 "image": vm_farm.default_image(b) if b in config.vm_boards else seed.default_image(b)}
                for b in empty])
        _site_batch(config, site, "jetson_nfs.export_many", boards)

    with ThreadPoolExecutor(max_workers=MAX_SITES) as pool:
        list(pool.map(place, config.site_names))
    return []


def _site_batch(config, site, function, items):
    """``function`` of a site module's batch (``*_many``) for ``items``; LabError naming each
    board that failed and why."""
    args = [function, json.dumps(items)]
    result = _site_call(config, site, args)
    if not isinstance(result, dict) or not isinstance(result.get("failed"), dict):
        raise LabError(f"salt {site} {function}: unexpected answer {result!r}")
    if result["failed"]:
        raise LabError(f"salt {site} {function} failed for "
                       + "; ".join(f"{board}: {why}" for board, why in sorted(result["failed"].items())))
    return result["done"]


def _site_call(config, site, args):
    # -t: a site job on a busy machine may take longer than the CLI's default 5 s.
    code, data, out = salt(config, ["-t", "300", site, *args], timeout=600)
    if code != 0:
        raise LabError(f"salt {site} {' '.join(args)} failed: {out.strip()[-800:]}")
    return (data or {}).get(site)


def _wait_socket(path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.boards(path, timeout=2)
            return
        except LabError:
            time.sleep(0.1)
    raise LabError(f"the lab supervisor did not open {path} within {timeout}s")


def status(lab_dir):
    """One row per board: power, minion (supervisor's view), ping, minion up (master's view)."""
    config = LabConfig.read(lab_dir)
    try:
        rows = client.boards(config.socket_path)
    except LabError:
        rows = [{"board": b, "power": "off", "minion": "no supervisor",
                 "ip": config.network.board_addr(config.board_index(b))} for b in config.all_boards]
    answered = {}
    if daemons.read_pid(_pid_file(config, "master")):
        try:
            _, data, _ = salt(config, ["-t", "3", "-L", ",".join(config.all_boards), "test.ping"],
                              timeout=60, static=True)
        except LabError:  # a starved CLI: the boards' minions are shown as not answering
            data = None
        answered = data or {}
    for row in rows:
        row["site"] = config.site_of(row["board"])
        row["ping"] = ping(row["ip"])
        row["minion_up"] = answered.get(row["board"]) is True
    return {"lab": config.name, "dir": config.dir, "boards": rows,
            "sites": {site: config.site_address(site) for site in config.site_names}, "daemons": {
                name: bool(daemons.read_pid(_pid_file(config, name)))
                for name in ("master", *config.site_names, "supervisor")}}


def ping(address):
    """Does ``address`` (a lab board's own address) answer one ping within a second?"""
    proc = subprocess.run(["ping", "-c1", "-W1", "-q", address], capture_output=True, timeout=5, check=False)
    return proc.returncode == 0


def down(lab_dir, purge=False):
    """Stop everything of the lab and remove its network; with purge, its folder too."""
    path = pathlib.Path(lab_dir)
    if not (path / "lab.json").is_file():
        return {"dir": str(path), "stopped": [], "removed": []}
    config = LabConfig.read(lab_dir)
    # The minions' own SIGTERM shutdown can take ~10 s; nothing of theirs needs saving.
    stopped = [name for name, wait in (("supervisor", 15), *((site, 3) for site in config.site_names),
                                       ("master", 10))
               if daemons.stop(name, _pid_file(config, name), wait=wait)]
    for site in config.site_names:
        _kill_stray_ganesha(config.ganesha_dir_of(site))
    _kill_netns_processes(config)
    vm_farm.kill_stray_qemu(config)
    removed = network.destroy(config.network, config.boards)
    if purge:
        shutil.rmtree(path, ignore_errors=True)
    return {"dir": str(path), "stopped": stopped, "removed": removed}


def _kill_stray_ganesha(ganesha_dir):
    """The Ganesha and dbus-daemon of a supervisor that was killed hard: found by this lab's own
    pid file and bus config path, never by a process name alone."""
    try:
        pid = int((ganesha_dir / "ganesha.pid").read_text().split()[0])
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if str(ganesha_dir / "ganesha.conf").encode() in handle.read():
                os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass
    bus_conf = f"--config-file={ganesha_dir / 'bus.conf'}".encode()
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if bus_conf in (proc / "cmdline").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue


def _kill_netns_processes(config):
    """Whatever still runs in a board's namespace (a supervisor killed hard leaves its boards)."""
    for index, board in enumerate(config.boards, start=1):
        network.kill_netns_processes(config.network.netns(board))
        if network.netns_exists(config.network.netns(board)):
            network.set_board_link(config.network, board, index, up=False)
