"""What the switch asks of a board's site server and power, in one place.

The site modules (jetson_nfs, jetson_rootfs, jetson_power) are called through the runner's
:class:`~jetson_farm.runner.saltops.SaltOps`; this file knows their names and return shapes.
"""

import logging

from jetson_farm.errors import JetsonError, Refused

log = logging.getLogger(__name__)

SITE_TIMEOUT = 120
SWAP_TIMEOUT = 900  # a rename costs nothing, but injection and a first-time fsync may take a while


class MinionError(JetsonError):
    """A minion answered a call with an error, or did not answer."""


class SiteCalls:
    def __init__(self, ops, inventory, board):
        self.ops, self.inventory, self.board = ops, inventory, board
        self.site = inventory.site(board.site)

    def call(self, fun, *args, timeout=SITE_TIMEOUT, **kwargs):
        return self.ops.call(self.site.minion, fun, *args, timeout=timeout, **kwargs)

    @property
    def driver(self):
        return self.board.power.get("driver", "salt")

    # -- reading -------------------------------------------------------------------------------

    def current(self):
        """``{"image", "user"}`` at the board's nfsroot now, from the site's state file."""
        state = self.call("jetson_rootfs.state", self.board.name)
        if isinstance(state, dict) and self.board.name in state and isinstance(state[self.board.name], dict):
            state = state[self.board.name]
        state = state if isinstance(state, dict) else {}
        return {"image": state.get("image") or "", "user": state.get("user") or ""}

    def check_image_free(self, image):
        """The site's error for an image it does not have; Refused if it sits at another board."""
        info = self.call("jetson_rootfs.info", image)
        where = info.get("board") if isinstance(info, dict) else None
        if where and where != self.board.name:
            raise Refused(f"image {image} is at board {where}'s nfsroot now; release {where} first")
        return info

    def power_status(self):
        status = self.call("jetson_power.status", self.board.name)
        return status.get("power", "unknown") if isinstance(status, dict) else str(status)

    def capabilities_report(self):
        report = self.call("jetson_power.capabilities", self.board.name)
        return report if isinstance(report, dict) else {}

    def capabilities(self):
        return set(self.capabilities_report().get("actions") or ())

    # -- steps ---------------------------------------------------------------------------------

    def stop(self):
        """Step 1: a soft reboot, by the board's own minion for the ``salt`` driver."""
        if self.driver == "salt":
            answered, _ = self.ops.try_call(self.board.minion, "system.reboot", timeout=10)
            return {"stop": "system.reboot" if answered else "system.reboot: no answer (already down?)"}
        try:
            return {"stop": "jetson_power.reboot", "power": self.call("jetson_power.reboot", self.board.name)}
        except MinionError:
            if self.capabilities_report().get("reboot"):
                raise
            # A driver that cannot stop the board (wol): step 2 waits for it to go down.
            return {"stop": f"driver {self.driver} cannot stop the board; waiting for it to go down"}

    def ensure_down(self):
        """Step 2: no NFS session and no ping, escalating to a hard off where the driver can."""
        timeout = 3 * self.board.down_timeout + 60
        return {"down": self.call("jetson_power.ensure_down", self.board.name, timeout=timeout)}

    def unexport(self):
        return {"unexport": self.call("jetson_nfs.unexport", self.board.name)}

    def export(self):
        return {"export": self.call("jetson_nfs.export", self.board.name)}

    def put(self, image, user, switch_id):
        """Step 4: ``image`` at the board's nfsroot (the current one parked), or park if no image."""
        if not image:
            return {"swap": self.call("jetson_rootfs.park", self.board.name, timeout=SWAP_TIMEOUT)}
        return {"swap": self.call("jetson_rootfs.swap", self.board.name, image, user=user,
                                  switch_id=switch_id, timeout=SWAP_TIMEOUT)}

    def start(self, parked):
        """Step 6: power on where the board is off. A board that is on got here without its
        nfsroot (it restarted while unexported), so a driver with hard power cycles it."""
        if self.driver == "salt":
            return {"start": "the board restarts by itself after its soft reboot"}
        power = self.power_status()
        if parked:
            if power != "off" and "off" in self.capabilities():
                return {"start": "parked: powered off",
                        "power": self.call("jetson_power.off", self.board.name)}
            return {"start": "parked: left as it is"}
        if power == "off":
            return {"start": "powered on", "power": self.call("jetson_power.on", self.board.name)}
        caps = self.capabilities()
        if "cycle" in caps:
            return {"start": "power cycled", "power": self.call("jetson_power.cycle", self.board.name)}
        if "on" in caps:
            return {"start": f"powered on (power was {power})", "power": self.call("jetson_power.on",
                                                                                   self.board.name)}
        return {"start": f"left as it is (power {power}, driver {self.driver})"}
