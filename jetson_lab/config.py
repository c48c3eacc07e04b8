"""A lab's fixed facts, kept in ``LAB_DIR/lab.json`` so every command and process agrees.

::

    LAB_DIR/lab.json            this file
    LAB_DIR/supervisor.sock     the supervisor's socket (power driver, CLI)
    LAB_DIR/master/             the salt-master's config dir (``salt -c LAB_DIR/master``)
    LAB_DIR/site01/             the site minion's config dir
    LAB_DIR/ganesha/            the NFS server's state
    LAB_DIR/pillar/             top.sls and jetson.sls
    LAB_DIR/site/               the site root: images/, boards/<b>/identity/, state/
    LAB_DIR/nfsroot/<board>/    each board's nfsroot
    LAB_DIR/site02/, LAB_DIR/sites/site02/{root,ganesha}/   a second site (``sites: 2``): its
                                minion's config dir, its site root and its own Ganesha
    LAB_DIR/run/<board>/        each board's runtime dir ("RAM"): config, keys, logs; a VM board's
                                kernel, QMP socket and serial console logs
    LAB_DIR/pids/               pid files of the lab's daemons
"""

import json
import os
import pathlib
from dataclasses import asdict, dataclass, field

from jetson_lab.errors import LabError
from jetson_lab.network import LabNetwork

SITE_MINION = "site01"
NFS_PORT = 2049
# VM boards take the indices from here on (addresses .111, .112...), apart from process boards.
VM_INDEX_BASE = 100


@dataclass
class LabConfig:
    name: str
    dir: str
    boards: list = field(default_factory=list)
    tag: str = ""
    subnet_octet: int = 0
    nfs_port: int = NFS_PORT
    boot_retry: float = 2.0
    reboot_down: float = 5.0  # a real board takes longer still before it asks for its root again
    vm_boards: list = field(default_factory=list)
    vm_cpus: int = 2
    vm_memory: int = 1024  # MiB
    # "max" shows the guest SVM (it loads kvm for nothing) and booted slower under TCG here
    # (docs/lab.md).
    vm_cpu_model: str = "qemu64"
    # Debian's initramfs sleeps this many seconds before it mounts the root, then boot=nfs4 tries
    # this many times, a second apart, before the kernel panics: each boot pays for it.
    vm_rootdelay: int = 3
    sites: int = 1  # site servers: site01 (the boards' first share, VM boards), site02, ...

    @classmethod
    def read(cls, lab_dir):
        path = pathlib.Path(lab_dir) / "lab.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise LabError(f"no lab at {lab_dir}: {path} is missing (run jetson-lab up)") from None
        except ValueError as err:
            raise LabError(f"{path} is not valid JSON: {err}") from None
        return cls(**data)

    def write(self):
        path = pathlib.Path(self.dir) / "lab.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, path)

    @property
    def network(self):
        return LabNetwork(self.tag, self.subnet_octet)

    @property
    def path(self):
        return pathlib.Path(self.dir)

    @property
    def socket_path(self):
        return str(self.path / "supervisor.sock")

    @property
    def master_dir(self):
        return self.path / "master"

    @property
    def site_dir(self):
        return self.path / SITE_MINION

    @property
    def ganesha_dir(self):
        return self.path / "ganesha"

    @property
    def pillar_dir(self):
        return self.path / "pillar"

    @property
    def site_root(self):
        return self.path / "site"

    @property
    def pid_dir(self):
        return self.path / "pids"

    # -- sites: site01 keeps the one-site paths; each further site has its own folder ----------

    @property
    def site_names(self):
        return [f"site{number:02d}" for number in range(1, self.sites + 1)]

    def site_of(self, board):
        """The site serving ``board``: process boards in equal consecutive shares, VM boards site01."""
        if board in self.vm_boards:
            return SITE_MINION
        share = -(-len(self.boards) // self.sites)
        return self.site_names[self.boards.index(board) // share]

    def boards_of(self, site):
        return [b for b in self.all_boards if self.site_of(b) == site]

    def minion_dir(self, site):
        """The site minion's config dir (``salt-call -c``)."""
        return self.path / site

    def site_root_of(self, site):
        return self.site_root if site == SITE_MINION else self.path / "sites" / site / "root"

    def ganesha_dir_of(self, site):
        return self.ganesha_dir if site == SITE_MINION else self.path / "sites" / site / "ganesha"

    def site_address(self, site):
        """Where the site's Ganesha listens: site01 on the bridge address, site0N on ``.N``."""
        return self.network.site_addr(self.site_names.index(site) + 1)

    def nfsroot(self, board):
        return str(self.path / "nfsroot" / board)

    def run_dir(self, board):
        return self.path / "run" / board

    @property
    def all_boards(self):
        return [*self.boards, *self.vm_boards]

    def vm_index(self, board):
        return VM_INDEX_BASE + self.vm_boards.index(board) + 1

    def board_index(self, board):
        """The board's index: its address and interface names derive from it."""
        return self.vm_index(board) if board in self.vm_boards else self.boards.index(board) + 1
