"""The switch engine in seconds: the real engine, site modules and disk; only Salt's wire replaced.

``EngineFarm`` is a farm in this process: the real :class:`jetson_farm.switch.Engine` with its
real SQLite db, leases and journal, driving the real site modules through Salt's loaders (one
per site minion, tests/functional/conftest.py) on a real disk (a store and nfsroots under a
scratch folder, real ``exportfs``), and the lab's own board model
(:class:`jetson_lab.board.LabBoard`: power, faults, soft reboots, boot retries) driven in this
process. Power goes through the real ``lab`` power driver to the lab supervisor's request
handler, served here on a unix socket.

:class:`EngineWire` stands in for :class:`jetson_farm.runner.farmbus.FarmBus`, the one part
replaced: a site job runs the loaded site module function; a board job is answered by the
board whose "minion" runs under that id, which is what it read from its nfsroot at power-on
(its identity, and the marker the swap injected), and only while the site exports the nfsroot
to it. A minion that is not up never answers, as on Salt.

A killed ``salt-run`` is :class:`Killed`: the wire raises it (not an ``Exception``, so the
engine cannot catch it) once the job of ``kill_at`` is published and has run on the site, and
from then on at every call, so nothing more of that run reaches the db, the sites or the bus.
"""

import contextlib
import copy
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import threading
import time
import traceback
from types import SimpleNamespace

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from jetson_farm import marker, switch
from jetson_farm.layout import SiteLayout
from jetson_farm.nfs.common import read_text
from jetson_farm.nfs.kernel import ETAB, parse_etab
from jetson_farm.runner import history, leases, plan, quarantine
from jetson_farm.runner.db import FarmDB
from jetson_farm.runner.farmbus import FarmBus
from jetson_farm.runner.jobcache import answer
from jetson_farm.switch import Engine
from jetson_lab import boot
from jetson_lab.board import LabBoard
from jetson_lab.errors import BootFailed
from jetson_lab.supervisor import Supervisor, _listen
from tests.conftest import fresh_folder, make_pillar, unexport_under
from tests.unit.test_rootfs_helpers import make_rootfs

IMAGE_TAG = "etc/jetson-test-image"  # each seeded image names itself here: where it physically is


class Killed(BaseException):
    """The engine's process died here (SIGKILL): nothing after this point of the run happens."""


@pytest.fixture(autouse=True)
def prompt_at_once(monkeypatch):
    """The engine asks a board for its marker at most once a second on its start events (a
    bound against forged ones); in-process boards start within milliseconds of power-on, so that
    second would be most of each test. Autouse where imported."""
    monkeypatch.setattr(switch, "PROMPT_GAP", 0.05)


@pytest.fixture(scope="module")
def module_folder():
    yield from fresh_folder()


@pytest.fixture
def farm_folder(module_folder):
    """An empty folder, at the same path for every test of the module: the farm's pillar, which
    names paths under it, is then the same from one test to the next, and the sites' loaders
    need no reload for it (EngineFarm.set_pillar). Emptied and unexported after each test."""
    yield module_folder
    unexport_under(module_folder)
    for child in module_folder.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


# -- the boards --------------------------------------------------------------------------------


class Minion:
    """What a booted board's minion is: the id it read from its nfsroot, its marker grain, and
    when it started (monotonic)."""

    def __init__(self, minion_id, grain):
        self.id, self.grain, self.started = minion_id, grain, time.monotonic()


class InProcessBoard(LabBoard):
    """A lab board whose boot reads its nfsroot from the site's disk while the site exports it to
    the board's address (``exported(path, ip)``), and whose minion is what it read: no network
    namespace, NFS client or process. Power, faults, reboots and boot retries are the lab's."""

    def __init__(self, name, index, nfsroot, ip, run_dir, exported, changed):
        segment = SimpleNamespace(board_addr=lambda _index: ip, netns=lambda _board: "")
        super().__init__(name, index, nfsroot, segment, nfs_port=0, run_dir=run_dir, boot_retry=0.05,
                         reboot_down=0.05, server="in-process")
        self.ip, self.exported, self.changed = ip, exported, changed
        self.minion = None

    def _set_link(self, up):
        pass  # no link: the board's address is in the wire's view (connected_addresses)

    def _cut(self, soft=False):
        super()._cut(soft)
        self.minion = None
        self._tell()

    def _boot_once(self, generation):
        if "no_boot" in self.faults:
            raise BootFailed(f"board {self.name} does not boot (fault no_boot)")
        files = self._read_boot_files()
        minion_id, _, _ = boot.parse_identity(files)
        with self._lock:
            if generation != self._generation:
                return
            self._boots += 1
            self._minion_id, self._boot_error = minion_id, None
            self.minion = Minion(minion_id, boot.safe_marker(files) or {})
        self._tell()

    def _read_boot_files(self):
        if not self.exported(self.nfsroot, self.ip):
            raise BootFailed(f"{self.nfsroot} is not exported to {self.ip}")
        files = {}
        for rel in (*boot.REQUIRED, *boot.OPTIONAL):
            data = self._read(rel)
            if data is None and rel in boot.REQUIRED:
                raise BootFailed(f"cannot read {rel} from {self.nfsroot}")
            if data is not None:
                files[rel] = data
        return files

    def _read(self, rel):
        """The file's bytes as the board's NFS client would see them (links resolved inside the
        nfsroot, never out of it), or None."""
        root = os.path.realpath(self.nfsroot)
        path = os.path.realpath(os.path.join(root, rel))
        if os.path.commonpath([root, path]) != root:
            return None
        try:
            with open(path, "rb") as handle:
                return handle.read(boot.MAX_FILE_BYTES)
        except OSError:
            return None

    def _tell(self):
        with self.changed:
            self.changed.notify_all()


class InProcessLab(Supervisor):
    """The lab supervisor's request handling (power and faults, as the ``lab`` power driver and
    ``jetson-lab fault`` ask) over its unix socket, for in-process boards."""

    def __init__(self, socket_path):  # not super().__init__: it builds process boards from a lab config
        self.config = SimpleNamespace(name="in-process")
        self.boards = {}
        self.changed = threading.Condition()  # notified when a board boots or goes down
        self._server = _listen(str(socket_path), self.handle)

    def add(self, name, index, nfsroot, ip, run_dir):
        self.boards[name] = InProcessBoard(name, index, nfsroot, ip, run_dir, exported_to, self.changed)
        return self.boards[name]

    def minions(self, minion_id):
        """The boards whose minion runs as ``minion_id`` now."""
        return [b for b in self.boards.values() if b.minion is not None and b.minion.id == minion_id]

    def wait(self, predicate, timeout=30):
        with self.changed:
            assert self.changed.wait_for(predicate, timeout), f"not within {timeout}s: {predicate}"

    def close(self):
        self.shutdown_boards()
        # shutdown() waits out serve_forever's poll (0.5 s): let it do so after the test.
        threading.Thread(target=_stop_serving, args=(self._server,), daemon=True).start()


def _stop_serving(server):
    server.shutdown()
    server.server_close()


def exported_to(path, ip):
    """Whether the kernel NFS server exports ``path`` to ``ip`` now (its live table)."""
    return ip in parse_etab(read_text(ETAB)).get(path, {})


# -- the wire ----------------------------------------------------------------------------------


class EngineWire(FarmBus):
    """FarmBus's interface over the site modules' loaders and the in-process boards.

    ``sites``: ``{site minion: FarmLoaders}``; ``silent``: site minions that are down (their jobs
    get no answer); ``before``: ``{function or event tag: callable}``, run just before each site
    job of that function (a fault on the site's disk or devices) or each firing of that tag;
    ``kill_at``: the function whose publication kills the run (see :class:`Killed`).
    """

    def __init__(self, lab, sites, silent=(), before=None, kill_at=None):  # not FarmBus's: no Salt clients
        self.lab, self.sites, self.silent = lab, sites, set(silent)
        self.before, self.kill_at = dict(before or {}), kill_at
        self._seen = lab.changed
        self._jids = itertools.count(1)
        self._returns = {}  # jid -> {minion: stored return}
        self._unreachable = {}  # jid -> minions that could not have got the job (find_job: silent)
        self._taken = {}  # jid -> minions whose answer poll handed out
        self._lookup = threading.Lock()
        self.dead = False
        self.published = []  # (function, minions), in order
        self.fired = []  # (tag, data), in order
        self.give_ups = []  # (minions, give_up) of each read that gives up a silent minion

    def _alive(self):
        if self.dead:
            raise Killed(f"the run was killed at {self.kill_at}")

    def publish(self, minions, fun, *args, **kwargs):
        self._alive()
        minions = sorted(set(minions))
        jid = f"in-process-{next(self._jids)}"
        with self._seen:
            self.published.append((fun, minions))
            self._returns[jid], self._unreachable[jid] = {}, set()
        jobs = []
        for minion in minions:
            if minion in self.sites and minion not in self.silent:
                jobs.append(threading.Thread(target=self._site_job, args=(jid, minion, fun, args, kwargs),
                                             daemon=True))
            elif minion not in self.sites and self.lab.minions(minion):
                self._board_job(jid, minion, fun, args)
            else:
                with self._seen:
                    self._unreachable[jid].add(minion)
        for job in jobs:
            job.start()
        if fun == self.kill_at:
            for job in jobs:  # the site finishes the job alone, after the run is gone
                job.join()
            self.dead = True
            with self._seen:
                self._seen.notify_all()
            self._alive()
        return jid, minions

    def _site_job(self, jid, minion, fun, args, kwargs):
        if fun in self.before:
            self.before[fun]()
        with self._lookup:  # the loader loads a module on first use: one lookup at a time
            function = self.sites[minion].modules[fun]
        try:
            stored = {"return": function(*args, **kwargs), "retcode": 0, "success": True}
        except CommandExecutionError as err:  # what salt.minion returns for each kind of failure
            stored = {"return": f"ERROR: {err}", "retcode": 1, "success": False}
        except SaltInvocationError as err:
            stored = {"return": f"ERROR executing '{fun}': {err}", "retcode": 1, "success": False}
        except Exception:  # a bug in a module is an answer too
            stored = {"return": f"The minion function caused an exception: {traceback.format_exc()}",
                      "retcode": 1, "success": False}
        self._store(jid, minion, stored)

    def _board_job(self, jid, minion, fun, args):
        """What a lab board's minion does with a job (its ``system`` module, its grain)."""
        board = self.lab.minions(minion)[0]
        if fun == "system.reboot":
            stored = {"return": board.soft_reboot(), "retcode": 0}
        elif fun == "grains.get" and args[:1] == ("jetson_marker",):
            stored = {"return": board.minion.grain, "retcode": 0}
        else:
            stored = {"return": f"'{fun}' is not available.", "retcode": 1}
        self._store(jid, minion, stored)

    def _store(self, jid, minion, stored):
        with self._seen:
            self._returns[jid].setdefault(minion, stored)  # the first stored return wins
            self._seen.notify_all()

    def collect(self, job, timeout, give_up=None):
        self._alive()
        jid, minions = job
        if give_up:
            self.give_ups.append((tuple(minions), give_up))
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                got = {m: r for m, r in self._returns[jid].items() if m in minions}
                missing = set(minions) - set(got)
                gone = give_up and missing <= self._unreachable[jid]
                if not missing or gone or time.monotonic() >= deadline:
                    break
                self._seen.wait(deadline - time.monotonic())
                self._alive()
        return {minion: answer(stored) for minion, stored in got.items()}

    def poll(self, job):
        self._alive()
        jid, _ = job
        with self._seen:
            taken = self._taken.setdefault(jid, set())
            fresh = {m: r for m, r in self._returns[jid].items() if m not in taken}
            taken.update(fresh)
        return {minion: answer(stored) for minion, stored in fresh.items()}

    def connected_addresses(self):
        self._alive()
        return {b.ip for b in self.lab.boards.values() if b.minion is not None}

    def started_at(self, minion):
        self._alive()
        starts = [b.minion.started for b in self.lab.minions(minion)]
        return max(starts) if starts else None

    def wait_event(self, seconds):
        self._alive()
        with self._seen:
            self._seen.wait(max(seconds, 0.0))
        self._alive()

    def fire(self, tag, data):
        self._alive()
        if tag in self.before:
            self.before[tag]()
        with self._seen:
            self.fired.append((tag, dict(data)))
            self._seen.notify_all()

    def close(self):
        pass

    # -- for the tests ------------------------------------------------------------------------

    def tags(self, prefix=""):
        return [tag for tag, _ in self.fired if tag.startswith(prefix)]

    def data(self, tag):
        return [data for name, data in self.fired if name == tag]

    def ran(self, fun):
        """The minions each job of ``fun`` went to, in order."""
        return [minions for name, minions in self.published if name == fun]


# -- the farm ----------------------------------------------------------------------------------


def dead_holder():
    """A lease holder whose process has exited: what a killed ``salt-run`` leaves behind."""
    proc = subprocess.Popen(["true"])
    token = leases.holder_token(proc.pid)
    proc.wait()
    return token


def write_identity(folder, board):
    """The board's minion key pair as the site keeps it: PEM-shaped stand-ins (no minion here
    authenticates, and an RSA key costs a CPU-second)."""
    os.makedirs(folder)
    for name, kind in (("minion.pem", "RSA PRIVATE KEY"), ("minion.pub", "PUBLIC KEY")):
        text = f"-----BEGIN {kind}-----\nAAAA{board.replace('-', '')}\n-----END {kind}-----\n"
        pathlib.Path(folder, name).write_text(text)


def default_image(board):
    return f"admin/l4t-base-{board}"


class EngineFarm:
    """A farm of ``boards`` ({site: [boards]}) under ``folder``, each board up on its own default
    image. ``loaders``: ``{site minion: FarmLoaders}`` of the sites that run."""

    IMAGES = ("alice/cuda-dev", "bob/ros")

    def __init__(self, folder, loaders, boards, tune=None, images=()):
        self.folder = pathlib.Path(folder)
        self.loaders = loaders
        self.images = (*self.IMAGES, *images)
        pillar = self._pillar(boards)
        if tune is not None:
            tune(pillar)
        self.set_pillar(pillar)
        self.db = FarmDB(str(self.folder / "farm.db"))
        self.lab = InProcessLab(self.folder / "lab.sock")
        for index, (name, board) in enumerate(self.pillar["boards"].items(), start=1):
            self.lab.add(name, index, board["nfsroot"], board["ip"], self.folder / "run" / name)
        self._seed()

    def _pillar(self, boards):
        names = [b for group in boards.values() for b in group]
        pillar = make_pillar(self.folder, boards=names, exports_file=str(self.folder / "jetson.exports"))
        pillar["defaults"]["power"]["timeout"] = 5
        for site in boards:
            pillar["sites"].setdefault(site, dict(copy.deepcopy(pillar["sites"]["site01"]), minion=site,
                                                  root=str(self.folder / f"root-{site}")))
        pillar["sites"] = {site: pillar["sites"][site] for site in boards}
        for site, group in boards.items():
            for name in group:
                pillar["boards"][name].update(site=site, image=default_image(name))
                pillar["images"][default_image(name)] = {"shared": True}
        return pillar

    def _seed(self):
        """Each site's store and each board's identity; each board on its default image, exported,
        powered on and up."""
        for site, entry in self.pillar["sites"].items():
            layout = SiteLayout(entry["root"])
            layout.ensure()
            boards = [b for b, e in self.pillar["boards"].items() if e["site"] == site]
            for image in (*self.images, *(default_image(b) for b in boards)):
                make_rootfs(layout.image_path(image), extra={IMAGE_TAG: image})
            for board in boards:
                write_identity(layout.identity_dir(board), board)
                pathlib.Path(self.pillar["boards"][board]["nfsroot"]).mkdir()
            if site in self.loaders:
                modules = self.loaders[site].modules
                swapped = modules.jetson_rootfs.swap_many(
                    [{"board": b, "image": default_image(b), "switch_id": f"seed-{b}"} for b in boards])
                exported = modules.jetson_nfs.export_many(boards)
                assert not swapped["failed"] and not exported["failed"], (swapped, exported)
        for board in self.lab.boards.values():
            if self.pillar["boards"][board.name]["site"] in self.loaders:
                board.power_on()
        self.wait_up(*[b for b, e in self.pillar["boards"].items() if e["site"] in self.loaders])

    def set_pillar(self, pillar):
        """The farm's inventory: the sites' compiled pillar, and what the engine loads at step 0."""
        self.pillar = pillar
        compiled = json.dumps({"jetson": pillar})
        for site_loaders in self.loaders.values():
            if (site_loaders.pillar_dir / "jetson.sls").read_text() == compiled:
                site_loaders.reset_state()  # as the last test left it: fresh context and cache
            else:
                site_loaders.set_pillar(pillar)

    def close(self):
        self.lab.close()

    # -- running the engine -------------------------------------------------------------------

    def wire(self, **faults):
        return EngineWire(self.lab, self.loaders, **faults)

    def run(self, kind, boards, wire=None, holder=None):
        """The runner's ``jetson.run``: ``{board: report}`` of one engine run over ``wire``."""
        wire = wire or self.wire()
        requests = (plan.switch_requests({"boards": boards}) if kind == "switch"
                    else plan.release_requests({"boards": list(boards)}))
        engine = Engine(self.db, wire, lambda: copy.deepcopy(self.pillar), holder or leases.holder_token(),
                        jid=f"test-{kind}")
        return engine.run(kind, requests)

    def killed_run(self, kind, boards, kill_at, holder=None):
        """One run killed at ``kill_at``; its wire (what it published and fired before dying). Its
        lease holder is a process that has exited, unless ``holder`` is given."""
        wire = self.wire(kill_at=kill_at)
        run = threading.Thread(target=self.run, args=(kind, boards),
                               kwargs={"wire": wire, "holder": holder or dead_holder()})
        with quiet_after_death(wire):
            run.start()
            run.join()
        assert wire.dead, f"the run never published {kill_at}"
        return wire

    # -- what is where ------------------------------------------------------------------------

    def site_of(self, board):
        return self.pillar["boards"][board]["site"]

    def modules(self, board):
        return self.loaders[self.site_of(board)].modules

    def journal(self, board):
        return self.modules(board).jetson_rootfs.state(board)

    def exported(self, board):
        entry = self.pillar["boards"][board]
        return exported_to(entry["nfsroot"], entry["ip"])

    def at_nfsroot(self, board):
        """The image physically at the board's nfsroot (by its own tag), or None."""
        return _tag(self.pillar["boards"][board]["nfsroot"])

    def places(self, site="site01"):
        """``{image: [its places]}`` of ``site`` as its disk has them: ``<site>:store`` for an
        image in its slot, and each of its boards whose nfsroot holds it (as the swap's marker
        there names it). Every image must be in exactly one place (rule 1)."""
        images = pathlib.Path(self.pillar["sites"][site]["root"]) / "images"
        places = {slot.relative_to(images).as_posix(): [f"{site}:store"] for slot in images.glob("*/*")}
        for board, entry in self.pillar["boards"].items():
            found = self.marker_of(board) if entry["site"] == site else None
            if found is not None:
                places.setdefault(found["image"], []).append(board)
        return places

    def misplaced(self):
        """The images of every site not in exactly one place ({} when rule 1 holds)."""
        return {f"{site}:{image}": where for site in self.pillar["sites"]
                for image, where in self.places(site).items() if len(where) != 1}

    def marker_of(self, board):
        """The marker at the board's nfsroot as the swap injected it."""
        return marker.read_marker(self.pillar["boards"][board]["nfsroot"])

    def grain(self, board):
        """What the board's minion says it booted, or None when it is not up."""
        minion = self.lab.boards[board].minion
        return None if minion is None else minion.grain

    def wait_up(self, *boards, switch_id=None):
        """Until each board's minion runs (with ``switch_id``'s marker, if given)."""
        def up():
            return all(self.grain(b) is not None and (switch_id is None or
                                                       self.grain(b).get("switch_id") == switch_id)
                       for b in boards)
        self.lab.wait(up)

    def sessions(self, board):
        with self.db.connect() as conn:
            return [dict(row) for row in history.query(conn, board=board)]

    def lease(self, board):
        with self.db.connect() as conn:
            row = leases.get(conn, board)
            return None if row is None else dict(row)

    def quarantined(self, board):
        with self.db.connect() as conn:
            return quarantine.get(conn, board) is not None


def _tag(folder):
    try:
        return (pathlib.Path(folder) / IMAGE_TAG).read_text()
    except OSError:
        return None


@contextlib.contextmanager
def quiet_after_death(wire):
    """The threads of a run whose ``wire`` is dead end as a killed process's would: without a
    report (what a thread of it still did after the kill is moot: the process is gone)."""
    previous = threading.excepthook

    def hook(args):
        if not wire.dead:
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
