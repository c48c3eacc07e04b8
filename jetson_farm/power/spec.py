"""Reading one board's ``power`` mapping into a driver's device: every mistake named at once."""

import ipaddress
import os
import re
import urllib.parse

from jetson_farm.power.errors import PowerConfigError

COMMON_KEYS = ("driver",)
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class SpecReader:
    """Typed access to ``boards.<board>.power``; ``done()`` raises PowerConfigError naming every problem.

    ``keys`` are the driver's own keys; any other key is a mistake (a typo such as ``cycel``
    would otherwise be silently ignored and the board left without power control).
    """

    def __init__(self, board, driver, spec, keys):
        self.board, self.driver, self.spec = board, driver, dict(spec or {})
        self.problems = []
        allowed = set(COMMON_KEYS) | set(keys)
        for key in sorted(set(self.spec) - allowed, key=str):
            self._problem(key, f"unknown key for driver {driver} (known keys: {', '.join(sorted(keys))})")

    def _problem(self, key, text):
        self.problems.append(f"boards.{self.board}.power.{key}: {text}")

    def done(self):
        if self.problems:
            raise PowerConfigError(self.board, self.driver, self.problems)

    def has(self, key):
        return self.spec.get(key) not in (None, "")

    def string(self, key, default="", required=False, pattern=None, what="a string"):
        value = self.spec.get(key, default)
        if value in (None, ""):
            if required:
                self._problem(key, f"missing: driver {self.driver} needs {what}")
            return default or ""
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            self._problem(key, f"{value!r} is not {what}")
            return default or ""
        return value

    def url(self, key, required=False):
        value = self.string(key, required=required, what="an http(s) URL")
        if value:
            parts = urllib.parse.urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self._problem(key, f"{safe_url(value)!r} is not an http:// or https:// URL")
                return ""
        return value

    def seconds(self, key, default):
        value = self.spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
            self._problem(key, f"{value!r} must be a number of seconds between 0 and 3600")
            return default
        return value

    def port(self, key, default):
        value = self.spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            self._problem(key, f"{value!r} is not a port number (1-65535)")
            return default
        return value

    def path(self, key, default="", required=False):
        value = self.string(key, default, required=required, what="an absolute path")
        if value and (not value.startswith("/") or os.path.normpath(value) != value):
            self._problem(key, f"{value!r} must be a normalised absolute path")
            return default
        return value

    def choice(self, key, choices, default):
        value = self.spec.get(key, default)
        if value not in choices:
            self._problem(key, f"{value!r} is not one of {', '.join(map(str, choices))}")
            return default
        return value

    def boolean(self, key, default):
        value = self.spec.get(key, default)
        if not isinstance(value, bool):
            self._problem(key, f"{value!r} must be true or false")
            return default
        return value

    def mac(self, key, default=""):
        value = str(self.spec.get(key, default) or "").lower()
        if not value:
            self._problem(key, f"missing: driver {self.driver} needs the board's MAC "
                               "(power.mac or the board's mac)")
        elif not MAC_RE.match(value):
            self._problem(key, f"{value!r} is not a MAC address")
        return value

    def ipv4(self, key, default=""):
        value = self.spec.get(key, default)
        try:
            return str(ipaddress.IPv4Address(str(value)))
        except ValueError:
            self._problem(key, f"{value!r} is not an IPv4 address")
            return ""

    def host(self, key, default="", required=False):
        return self.string(key, default, required=required, pattern=HOST_RE, what="a host name or address")


def safe_url(url):
    """``url`` without any ``user:password@`` part, for messages and logs."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
