"""What the switch asks of one site server and of its boards' minions: one job per call.

Every call covers all the boards of the batch (the site modules' ``*_many`` functions) and
answers ``(done, failed)``: ``{board: result}`` and ``{board: reason}``, so a board that fails
drops out alone. A job that fails as a whole (a silent site minion) fails every board of it.
The calls go through a :class:`~jetson_farm.runner.farmbus.FarmBus`; this file knows the site
modules' names and return shapes.
"""

import logging
import time

from jetson_farm.errors import JetsonError
from jetson_farm.rootfs.clone import CLONE_TIMEOUT

log = logging.getLogger(__name__)

SITE_TIMEOUT = 120
# Reading a site's journals and images takes a second; a site that is down is given up much
# sooner, after its ``silent_timeout`` (docs/architecture.md, "Sites in one run").
READ_TIMEOUT = 60
SWAP_TIMEOUT = 900  # a rename costs nothing, but injection and a first-time fsync may take a while
REBOOT_TIMEOUT = 10
POWER_TIMEOUT = 15  # a look at the booting boards' power (step 7)
DISCONNECT_PROBE = 0.2  # seconds between two looks at the master's minion connections (step 2)


class MinionError(JetsonError):
    """A minion answered a call with an error, or did not answer."""


class NoAnswer(MinionError):
    """A minion did not answer a call in time (down, or not connected to the master)."""


class SiteCalls:
    """The calls to site ``site`` (an inventory Site) for the switches given to each method.

    A switch is anything with ``name`` (the board), ``board`` (its inventory Board), and for
    the swap ``image``, ``user`` and ``switch_id``.
    """

    def __init__(self, bus, site):
        self.bus, self.site = bus, site

    def call(self, fun, *args, timeout=SITE_TIMEOUT, **kwargs):
        try:
            return self.bus.call_one(self.site.minion, fun, *args, timeout=timeout, **kwargs)
        except NoAnswer as err:
            raise self.silent(err) from None

    def silent(self, err):
        """The error of a silent site minion, naming the site: its boards fail with it alone."""
        return NoAnswer(f"site {self.site.name} did not answer: {err}")

    def _many(self, fun, switches, argument, timeout=SITE_TIMEOUT, **kwargs):
        names = [s.name for s in switches]
        if not names:
            return {}, {}
        try:
            report = self.call(fun, argument, timeout=timeout, **kwargs)
        except MinionError as err:
            return {}, {name: str(err) for name in names}
        if not isinstance(report, dict):
            return {}, {name: f"{self.site.minion}: {fun} answered {report!r:.200}" for name in names}
        done, failed = report.get("done") or {}, report.get("failed") or {}
        lost = {name: f"{self.site.minion}: {fun} said nothing of {name}" for name in names
                if name not in done and name not in failed}
        return done, dict(failed, **lost)

    # -- reading (step 0) ---------------------------------------------------------------------

    def journals_and_images(self):
        """``({board: {"image", "user", ...}}, {image: board or None})``: what is at each nfsroot
        of the site now, and where every image is (two jobs, sent together)."""
        minion, give_up = self.site.minion, self.site.silent_timeout
        jobs = {fun: self.bus.publish([minion], fun) for fun in ("jetson_rootfs.state", "jetson_rootfs.list")}
        try:
            state, listed = (
                self.bus.answer_of(minion, fun, self.bus.collect(job, READ_TIMEOUT, give_up=give_up))
                for fun, job in jobs.items())
        except NoAnswer as err:
            raise self.silent(err) from None
        images = {item["image"]: item.get("board") if item.get("where") == "board" else None
                  for item in listed or []}
        return (state if isinstance(state, dict) else {}), images

    def working_copies(self, switches):
        """Before the lease: each switch's working copy (``image``) of its ``template`` made, or
        found made; ``(done, failed)`` by board."""
        copies = [{"template": s.template, "user": s.user, "board": s.name} for s in switches]
        try:
            report = self.call("jetson_image.working_copies", copies, timeout=CLONE_TIMEOUT)
        except MinionError as err:
            return {}, {s.name: str(err) for s in switches}
        report = report if isinstance(report, dict) else {}
        done, failed = report.get("done") or {}, report.get("failed") or {}
        return ({s.name: done[s.image] for s in switches if s.image in done},
                {s.name: failed.get(s.image, f"{self.site.minion}: no answer for {s.image}")
                 for s in switches if s.image not in done})

    # -- the steps ----------------------------------------------------------------------------

    def reboot_minions(self, switches):
        """Step 1 for driver ``salt``: ``system.reboot`` on the boards' own minions, one job."""
        answers = self.bus.call([s.board.minion for s in switches], "system.reboot", timeout=REBOOT_TIMEOUT)
        silent = "system.reboot: no answer (already down?)"
        return {s.name: {"stop": "system.reboot" if s.board.minion in answers else silent}
                for s in switches}, {}

    def stop(self, switches):
        return self._many("jetson_power.stop_many", switches, [s.name for s in switches])

    def ensure_down(self, switches):
        timeout = 3 * max(s.board.down_timeout for s in switches) + 60
        return self._many("jetson_power.ensure_down_many", switches, [s.name for s in switches],
                          timeout=timeout)

    def watch_disconnects(self, switches, gone):
        """Fill ``gone`` with ``{board: seconds}`` as each board's minion is seen with no
        connection to the master; returns when all were, or each one's ``down_timeout`` passed."""
        began, pending = time.monotonic(), list(switches)
        while pending:
            connected = self.bus.connected_addresses()
            now = time.monotonic()
            for s in [s for s in pending if s.board.ip not in connected]:
                gone[s.name] = round(now - began, 2)
                pending.remove(s)
            if all(now - began >= s.board.down_timeout for s in pending):
                return
            time.sleep(DISCONNECT_PROBE)

    def unexport(self, switches):
        return self._many("jetson_nfs.unexport_many", switches, [s.name for s in switches])

    def swap(self, switches):
        """Step 4: each switch's image at its board's nfsroot (its current one parked), or park."""
        swaps = [{"board": s.name, "image": s.image, "user": s.user, "switch_id": s.switch_id}
                 for s in switches]
        return self._many("jetson_rootfs.swap_many", switches, swaps, timeout=SWAP_TIMEOUT)

    def export(self, switches):
        return self._many("jetson_nfs.export_many", switches, [s.name for s in switches])

    def start(self, switches, parked, stagger=0):
        return self._many("jetson_power.start_many", switches, [s.name for s in switches],
                          parked=parked, stagger=stagger)

    def power_states(self, switches):
        """``{board: "on"|"off"|"unknown"}`` as the boards' drivers see it (one short job; a
        silent site or a failing driver says nothing of its boards)."""
        try:
            done, _ = self._many("jetson_power.power_many", switches, [s.name for s in switches],
                                 timeout=POWER_TIMEOUT)
        except NoAnswer:
            return {}
        return {name: report.get("power") for name, report in done.items() if isinstance(report, dict)}

    def ask_markers(self, switches):
        """Ask the boards' minions for their marker grain, without waiting: the job, for :meth:`markers`."""
        return self.bus.publish([s.board.minion for s in switches], "grains.get", "jetson_marker"), {
            s.board.minion: s.name for s in switches}

    def markers(self, asked):
        """``{board: marker grain}`` of the boards that answered ``asked`` since the last look."""
        job, by_minion = asked
        return {by_minion[minion]: value for minion, (ok, value) in self.bus.poll(job).items()
                if ok and minion in by_minion}
