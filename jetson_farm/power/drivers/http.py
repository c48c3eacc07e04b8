"""Driver ``http``: relay boards, smart plugs and PDUs with a web API, one URL per action.

Settings: ``Settings`` below (at least one of the URLs on, off, cycle). Without a ``cycle``
URL, a cycle is ``off``, ``cycle_delay`` seconds, then ``on``.

The ``status`` answer is read as JSON (the first of ``power``/``POWER``/``POWER1``/``state``/
``status`` keys) or as plain text: on/off, 1/0, true/false (case-insensitive).
"""

import json
import logging
import time
from typing import Literal

import requests
from pydantic import Field

from jetson_farm.power.base import HARD_OFF, OFF, ON, UNKNOWN, PowerDriver
from jetson_farm.power.errors import PowerError
from jetson_farm.power.spec import PowerSettings, Seconds, Url, safe_url
from jetson_farm.schema import choice

log = logging.getLogger(__name__)

STATE_KEYS = ("power", "POWER", "POWER1", "Power", "state", "status")
WORDS = {"on": ON, "1": ON, "true": ON, "off": OFF, "0": OFF, "false": OFF}


class Settings(PowerSettings):
    driver: Literal["http"] = Field(description="selects this driver")
    on: Url = Field("", description="the URL that powers the board on")
    off: Url = Field("", description="the URL that powers it off")
    cycle: Url = Field("", description="the URL that power-cycles it")
    status: Url = Field("", description="the URL that tells its power state")
    method: choice("GET", "POST") = Field("GET", description="the HTTP method of every call")
    timeout: Seconds = Field(10, description="of every call")
    cycle_delay: Seconds = Field(2, description="how long the power stays off when a cycle is `off` "
                                                "then `on`")
    verify_tls: bool = Field(True, description="check the server's TLS certificate")

    @classmethod
    def cross_checks(cls, spec):
        if not any(spec.get(key) for key in ("on", "off", "cycle")):
            return [("", "driver http needs at least one of the URLs on, off, cycle")]
        return []

    def reports_power(self, driver_class):
        return bool(self.status)



def read_state(text):
    """``on``/``off`` from a status answer, or ``unknown``."""
    text = text.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = text
    if isinstance(data, dict):
        data = next((data[key] for key in STATE_KEYS if key in data), "")
    return WORDS.get(str(data).strip().lower(), UNKNOWN)


class Driver(PowerDriver):
    name = "http"
    reboot_kind = HARD_OFF

    @property
    def actions(self):
        device = self.device
        found = {key for key in ("on", "off", "cycle", "status") if getattr(device, key)}
        if device.on and device.off:
            found.add("cycle")
        if device.off:
            found.add("reboot")
        return frozenset(found)

    def _call(self, action, key):
        url = getattr(self.device, key)
        if not url:
            raise self.unsupported(action, f"no {key!r} URL in boards.{self.board}.power")
        shown = safe_url(url)
        log.info("%s: %s %s", self.describe(action), self.device.method, shown)
        try:
            answer = requests.request(self.device.method, url, verify=self.device.verify_tls,
                                      timeout=(self.device.timeout, self.device.timeout),
                                      allow_redirects=False)
        except requests.Timeout as err:
            raise PowerError(f"{self.describe(action)} failed: {shown} did not answer within "
                             f"{self.device.timeout}s") from err
        except requests.RequestException as err:
            raise PowerError(f"{self.describe(action)} failed: cannot reach {shown}: "
                             f"{type(err).__name__}") from err
        if not 200 <= answer.status_code < 300:
            raise PowerError(f"{self.describe(action)} failed: {shown} answered {answer.status_code} "
                             f"{answer.reason}")
        return answer.text

    def on(self):
        self._call("on", "on")
        return ON

    def off(self):
        self._call("off", "off")
        return OFF

    def cycle(self):
        if self.device.cycle or not (self.device.on and self.device.off):
            self._call("cycle", "cycle")
        else:
            self._call("cycle", "off")
            time.sleep(self.device.cycle_delay)
            self._call("cycle", "on")
        return ON

    def reboot(self):
        # No soft path through a relay: step 1 of the switch stops the board by cutting its power.
        if not self.device.off:
            raise self.unsupported("reboot", f"no soft reboot and no 'off' URL in boards.{self.board}.power")
        return self.off()

    def status(self):
        if not self.device.status:
            return UNKNOWN
        return read_state(self._call("status", "status"))
