"""What every driver's settings model is made of: the base class and the field types.

A driver declares its settings once, next to its code: ``class Settings(PowerSettings)`` with
``driver: Literal["<name>"]`` and one typed field per pillar key (docs/power-drivers.md). The
registry joins them in one discriminated union on ``driver``; unknown keys, missing and
mistyped values are named with their path by ``jetson_farm.schema.problems_of``.
"""

import os
import re
import urllib.parse
from typing import ClassVar

from pydantic import PrivateAttr

from jetson_farm.schema import (
    StrictModel,
    abs_path_or_empty,
    expect_string,
    field,
    host,
    number,
    refuse,
    shown,
)

USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class PowerSettings(StrictModel):
    """A board's ``power`` mapping for one driver, validated; once resolved, the driver's device.

    Subclasses may override ``cross_checks`` (rules over several keys, run on the raw mapping
    so that they are reported together with every other mistake), ``board_problems`` (rules
    that need the board) and ``resolve`` (defaults taken from the board or the site).
    """

    unknown_key_hints: ClassVar[dict] = {
        "password": "not allowed: never the password itself (boards are untrusted minions); use "
                    "password_file or password_env"}
    _board: str = PrivateAttr("")
    _minion: str = PrivateAttr("")

    @property
    def board(self):
        return self._board

    @property
    def minion(self):
        return self._minion

    @classmethod
    def cross_checks(cls, spec):
        """``[(key, message)]`` for rules over several keys of the raw mapping ``spec`` ('' : the mapping)."""
        return []

    def board_problems(self, board):
        """``[(key, message)]`` for rules that need the inventory ``board``."""
        return []

    def reports_power(self, driver_class):
        """Whether this board's driver can say its power is off (its ``status`` action)."""
        return "status" in driver_class.actions

    def defaults_from(self, board, site_root):
        """The settings this driver takes from ``board`` or the site when the pillar leaves them out."""
        return {}

    def resolve(self, board, site_root):
        """These settings with the board's defaults filled in: the device the driver acts on."""
        defaults = self.defaults_from(board, site_root)
        device = self.model_copy(update={key: value for key, value in defaults.items()
                                         if not getattr(self, key)})
        device._board, device._minion = board.name, board.minion
        return device


def _url(value):
    if value == "":
        return value
    expect_string(value, "an http(s) URL", 2048)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse(f"{shown(safe_url(value))} is not an http:// or https:// URL")
    return value


def _seconds(value):
    return number(value, minimum=0.001, maximum=3600, what="a number of seconds between 0 and 3600")


def _port(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise refuse(f"{shown(value)} is not a port number (1-65535)")
    return value


def pattern(regex, what, max_length=255, allow_empty=True):
    """A string matching ``regex`` whole ('' too with ``allow_empty``: a default applies)."""
    def check(value):
        if (expect_string(value, what, max_length) or not allow_empty) and not regex.fullmatch(value):
            raise refuse(f"{shown(value)} is not {what}")
        return value
    return check


Url = field(_url, "http(s) URL")
Seconds = field(_seconds, "seconds (0-3600)")
Port = field(_port, "port")
Host = field(host, "host name or address")
OptionalHost = field(lambda value: value if value == "" else host(value), "host name or address")
Path = field(abs_path_or_empty, "absolute path")
UserName = field(pattern(USER_RE, "a user name", 64), "user name")
EnvName = field(pattern(ENV_RE, "an environment variable name", 64), "environment variable name")


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


def site_file(site_root, name):
    """A file of the site's ``power/`` folder (the ssh driver's key and known_hosts)."""
    return os.path.join(site_root, "power", name)
