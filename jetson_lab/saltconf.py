"""The lab's salt-master and site minions: their configs, keys, and the CLI calls to them.

The master listens on the bridge address (default ports), which the boards reach from their
namespaces and the site minion reaches from the host; being a per-lab address, two labs never
clash on a port. Every path of both daemons lies under the lab dir.
"""

import json
import logging
import os
import pathlib
import subprocess
import sys

import salt.crypt
import yaml

from jetson_lab.config import SITE_MINION
from jetson_lab.errors import LabError

log = logging.getLogger(__name__)

REPO = pathlib.Path(__file__).resolve().parent.parent
SALT_DIR = REPO / "salt"
BIN = pathlib.Path(sys.executable).parent
KEY_SIZE = 2048


def write_yaml(path, data, mode=0o644):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, default_flow_style=False))
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def master_config(config):
    base = str(config.master_dir)
    return {
        "root_dir": base,
        "pki_dir": f"{base}/pki",
        "cachedir": f"{base}/cache",
        "sock_dir": f"{base}/run",
        "pidfile": f"{base}/run/salt-master.pid",
        "log_file": f"{base}/log/master",
        "key_logfile": f"{base}/log/key",
        "log_level_logfile": "info",
        "user": "root",
        "interface": config.network.bridge_addr,
        "publish_port": 4505,
        "ret_port": 4506,
        "worker_threads": 4,
        # A board that does not answer is normal in a lab (off, rebooting): say so in seconds,
        # not after the default 10 s of find_job.
        "gather_job_timeout": 3,
        "auto_accept": False,
        "file_roots": {"base": [str(SALT_DIR), str(SALT_DIR / "states")]},
        "pillar_roots": {"base": [str(config.pillar_dir)]},
        "jetson_db": f"{base}/jetson/farm.db",
        # The site state's enrol requests (salt/states/jetson/boards.sls, docs/admin-guide.md).
        "reactor": [{"jetson/site/enroll": [str(SALT_DIR / "reactor" / "jetson_site_enroll.sls")]}],
    }


def site_minion_config(config, site=SITE_MINION):
    base = str(config.minion_dir(site))
    return {
        "id": site,
        "master": config.network.bridge_addr,
        "root_dir": base,
        "pki_dir": f"{base}/pki",
        "cachedir": f"{base}/cache",
        "sock_dir": f"{base}/run",
        "pidfile": f"{base}/run/salt-minion.pid",
        "log_file": f"{base}/log/minion",
        "log_level_logfile": "info",
        "user": "root",
        "acceptance_wait_time": 1,
        "random_reauth_delay": 0,
        "recon_default": 200,
        "enable_fqdns_grains": False,
        "enable_gpu_grains": False,
    }


def write_configs(config):
    write_yaml(config.master_dir / "master", master_config(config))
    for site in config.site_names:
        write_yaml(config.minion_dir(site) / "minion", site_minion_config(config, site))
    (config.master_dir / "pki" / "minions").mkdir(parents=True, exist_ok=True)


def ensure_key_pair(key_dir):
    """A minion key pair ``minion.pem`` (0600) / ``minion.pub`` in ``key_dir``; the public key."""
    key_dir = pathlib.Path(key_dir)
    pem, pub = key_dir / "minion.pem", key_dir / "minion.pub"
    if not (pem.is_file() and pub.is_file()):
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        private, public = salt.crypt.gen_keys(KEY_SIZE)
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(private)
        pub.write_text(public)
    return pub.read_text()


def accept_key(config, minion_id, public_key):
    """Accept ``minion_id``'s key on the lab master (written into its pki_dir)."""
    path = config.master_dir / "pki" / "minions" / minion_id
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != public_key:
        path.write_text(public_key)
        for other in ("minions_pre", "minions_rejected", "minions_denied"):
            (config.master_dir / "pki" / other / minion_id).unlink(missing_ok=True)


def run_cli(tool, config_dir, args, timeout=120, static=False):
    """``tool -c config_dir --out=json ARGS``; (returncode, parsed JSON or None, raw output).

    ``static`` gathers several minions' returns into one JSON document; salt then exits 0 even
    when a minion failed, so use it only where the data is checked (e.g. test.ping of many).
    """
    argv = [str(BIN / tool), "-c", str(config_dir), "--out=json", *(["--static"] if static else []), *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)} did not finish in {timeout}s") from None
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc.stdout + proc.stderr
