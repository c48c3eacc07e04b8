"""How a lab board boots: read its identity from its nfsroot over NFS, lay out its "RAM".

A real board learns who it is only from the rootfs it mounts. So does a lab board: at every
power-on it reads the files the swap injected (see jetson_farm.marker) with ``nfs-cat`` from
inside its own network namespace, through the site's NFS server. An unexported or empty nfsroot
therefore fails the boot, as it would on a real board.

What it read is untrusted (users are root on their images): only the master address, the
minion id and the key pair are taken, checked, and written into a config the lab builds. Every
path in that config lies inside the board's runtime dir.
"""

import json
import logging
import os
import pathlib
import re
import shutil
import subprocess

import yaml

from jetson_farm import marker
from jetson_farm.errors import InvalidName
from jetson_farm.names import check_name
from jetson_lab.errors import BootFailed

log = logging.getLogger(__name__)

NFS_CAT_TIMEOUT = 10
MAX_FILE_BYTES = 64 * 1024
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
PEM_RE = re.compile(r"^-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n?$")
PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
BOARD_MODULES = PACKAGE_DIR / "board_modules"

REQUIRED = (marker.MINION_ID, marker.MINION_CONF, f"{marker.PKI_DIR}/minion.pem",
            f"{marker.PKI_DIR}/minion.pub")
OPTIONAL = (marker.MARKER, marker.HOSTNAME)


def nfs_url(server, port, nfsroot, relpath):
    """The libnfs URL of ``relpath`` under the export ``nfsroot`` (NFSv4, explicit port)."""
    return f"nfs://{server}{nfsroot.rstrip('/')}/{relpath}?version=4&nfsport={port}"


def nfs_read(netns, server, port, nfsroot, relpath):
    """The bytes of one file of the board's export, read from inside the board's namespace."""
    url = nfs_url(server, port, nfsroot, relpath)
    try:
        proc = subprocess.run(["ip", "netns", "exec", netns, "nfs-cat", url], capture_output=True,
                              timeout=NFS_CAT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise BootFailed(f"reading {relpath} from {url} timed out after {NFS_CAT_TIMEOUT}s") from None
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip() or f"nfs-cat exit {proc.returncode}"
        raise BootFailed(f"cannot read {relpath} from {url}: {reason}")
    if len(proc.stdout) > MAX_FILE_BYTES:
        raise BootFailed(f"{relpath} at {url} is larger than {MAX_FILE_BYTES} bytes")
    return proc.stdout


def read_boot_files(netns, server, port, nfsroot):
    """{relpath: bytes} of the identity files; BootFailed when a required one is missing."""
    files = {rel: nfs_read(netns, server, port, nfsroot, rel) for rel in REQUIRED}
    for rel in OPTIONAL:
        try:
            files[rel] = nfs_read(netns, server, port, nfsroot, rel)
        except BootFailed as err:
            log.debug("optional boot file absent: %s", err)
    return files


def parse_identity(files):
    """(minion_id, master, master_port) from the boot files, checked; BootFailed else."""
    text = files[marker.MINION_ID].decode(errors="replace").strip()
    try:
        minion_id = check_name("minion", text)
    except InvalidName as err:
        raise BootFailed(f"{marker.MINION_ID}: {err}") from None
    try:
        conf = yaml.safe_load(files[marker.MINION_CONF].decode(errors="replace"))
    except yaml.YAMLError as err:
        raise BootFailed(f"{marker.MINION_CONF} is not YAML: {err}") from None
    if not isinstance(conf, dict):
        raise BootFailed(f"{marker.MINION_CONF} must be a mapping with master and id")
    if str(conf.get("id", minion_id)) != minion_id:
        raise BootFailed(f"{marker.MINION_CONF} names id {conf.get('id')!r}, but "
                         f"{marker.MINION_ID} says {minion_id!r}")
    master = str(conf.get("master", ""))
    if not HOSTNAME_RE.match(master):
        raise BootFailed(f"{marker.MINION_CONF}: master {master!r} is not an address or host name")
    port = conf.get("master_port", 4506)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise BootFailed(f"{marker.MINION_CONF}: master_port {port!r} is not a TCP port")
    for name in ("minion.pem", "minion.pub"):
        pem = files[f"{marker.PKI_DIR}/{name}"].decode(errors="replace")
        if not PEM_RE.match(pem):
            raise BootFailed(f"{marker.PKI_DIR}/{name} is not a PEM key")
    return minion_id, master, port


def safe_marker(files):
    """The marker JSON re-serialised from its known keys, or None (the grain then says {})."""
    raw = files.get(marker.MARKER)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode(errors="replace"))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {key: str(data[key]) for key in ("board", "image", "user", "switch_id") if key in data}


def _write(path, data, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def prepare_runtime(run_dir, files, control_socket):
    """Wipe and rebuild the board's runtime dir from what it read; the minion config path.

    ``run_dir`` keeps only its ``log`` folder and the supervisor's socket across boots.
    """
    minion_id, master, port = parse_identity(files)
    run_dir = pathlib.Path(run_dir)
    for name in ("etc", "root", "extmods", "cache", "var"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    pki = run_dir / "etc" / "salt" / "pki" / "minion"
    _write(pki / "minion.pem", files[f"{marker.PKI_DIR}/minion.pem"], 0o600)
    _write(pki / "minion.pub", files[f"{marker.PKI_DIR}/minion.pub"])
    root = run_dir / "root"
    _write(root / marker.MINION_ID, f"{minion_id}\n".encode())
    board_marker = safe_marker(files)
    if board_marker is not None:
        _write(root / marker.MARKER, json.dumps(board_marker).encode())
    hostname = files.get(marker.HOSTNAME, b"").decode(errors="replace").strip()
    if HOSTNAME_RE.match(hostname):
        _write(root / marker.HOSTNAME, f"{hostname}\n".encode())
    # Only the lab's own system module: the board grain comes, as the site's modules do, through
    # the jetson-farm package's salt.loader entry point (the lab's minions run from its Python).
    modules = run_dir / "extmods" / "modules"
    modules.mkdir(parents=True)
    shutil.copy(BOARD_MODULES / "system.py", modules / "system.py")
    (run_dir / "log").mkdir(exist_ok=True)
    config = minion_config(run_dir, minion_id, master, port, control_socket)
    conf_dir = run_dir / "etc" / "salt"
    _write(conf_dir / "minion", yaml.safe_dump(config, default_flow_style=False).encode(), 0o600)
    return minion_id, str(conf_dir)


def minion_config(run_dir, minion_id, master, port, control_socket):
    """A salt-minion config whose every path is inside ``run_dir``, tuned to start fast."""
    run_dir = str(run_dir)
    return {
        "id": minion_id,
        "master": master,
        "master_port": port,
        "user": "root",
        "root_dir": run_dir,
        "pki_dir": f"{run_dir}/etc/salt/pki/minion",
        "cachedir": f"{run_dir}/cache",
        "sock_dir": f"{run_dir}/var/run",
        "pidfile": f"{run_dir}/var/run/salt-minion.pid",
        "log_file": f"{run_dir}/log/minion",
        "log_level_logfile": "info",
        "module_dirs": [f"{run_dir}/extmods/modules"],
        "jetson_root": f"{run_dir}/root",
        "lab_control_socket": str(control_socket),
        # Fast start and fast reconnect: the benchmark counts a board's boot time.
        "acceptance_wait_time": 1,
        "acceptance_wait_time_max": 2,
        "random_reauth_delay": 0,
        "recon_default": 200,
        "recon_max": 2000,
        "recon_randomize": False,
        "auth_timeout": 10,
        "enable_fqdns_grains": False,
        "enable_gpu_grains": False,
        "grains_refresh_every": 0,
        "mine_enabled": False,
        "startup_states": "",
    }
