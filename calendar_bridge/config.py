"""The bridge configuration: one YAML file, checked key by key (see docs/bridge-admin.md).

Every problem is reported as ``<key>: <what is wrong>``. Secrets are read from a file or an
environment variable named in the config, never from the command line.
"""

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from calendar_bridge.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PATH = "/etc/jetson-farm/bridge.yaml"
TRUSTS = ("owner", "summary")
SALT_MODES = ("local", "api")
DURATION_RE = re.compile(r"^(\d+)\s*([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TOP_KEYS = {"caldav", "calendars", "calendar_template", "timezone", "lead_time", "lookahead", "salt",
            "inventory", "smtp", "ledger", "ssh_line", "limits"}


@dataclass(frozen=True)
class CalendarSpec:
    url: str
    trust: str = "owner"
    owner: str | None = None  # the booking user under trust: owner


@dataclass(frozen=True)
class SaltSpec:
    mode: str = "local"
    master_config: str = "/etc/salt/master"
    url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    eauth: str = "pam"
    timeout: int = 1800


@dataclass(frozen=True)
class SmtpSpec:
    host: str = ""
    port: int = 25
    sender: str = "jetson-farm@localhost"
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: int = 30
    admins: tuple = ()


@dataclass(frozen=True)
class Config:
    caldav_url: str
    caldav_username: str
    caldav_password: str = field(repr=False)
    calendars: tuple
    calendar_template: str
    timezone: str | None
    lead_time: timedelta | None  # None: the whole coming day
    lookahead: timedelta  # bookings this far ahead are read (first seen, conflicts), not acted on
    salt: SaltSpec
    pillar_file: str
    pillar_minion: str
    smtp: SmtpSpec
    ledger: str
    caldav_timeout: int = 30
    ssh_line: str = "ssh -J {user}@{site} root@{board}"
    max_occurrences: int = 200
    max_event_bytes: int = 262144
    path: str = ""

    def calendar_specs(self, users):
        """The calendars to read: the configured list, then the template over ``users``."""
        specs = list(self.calendars)
        if self.calendar_template:
            for user in sorted(users):
                url = urljoin(self.caldav_url, self.calendar_template.format(user=user))
                specs.append(CalendarSpec(url=url, trust="owner", owner=user))
        return specs


def _fail(key, message):
    raise ConfigError(f"{key}: {message}")


def _mapping(value, key):
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(key, f"must be a mapping, not {type(value).__name__}")
    return value


def _string(section, name, key, default=None, required=False):
    value = section.get(name, default)
    if value is None or value == "":
        if required:
            _fail(key, "is required")
        return "" if default is None else default
    if not isinstance(value, str):
        _fail(key, f"must be a string, not {type(value).__name__}")
    return value


def _integer(section, name, key, default, minimum=1):
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(key, f"{value!r} must be an integer >= {minimum}")
    return value


def _http_url(value, key):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _fail(key, f"{value!r} is not an http(s) URL")
    return value if value.endswith("/") else value + "/"


def _secret(section, key):
    """The secret named by ``password_file`` or ``password_env`` ('' when neither is set)."""
    if "password" in section:
        _fail(f"{key}.password", "secrets may not be written in the config; "
              "use password_file or password_env")
    path, env = section.get("password_file"), section.get("password_env")
    if path and env:
        _fail(key, "give password_file or password_env, not both")
    if path:
        try:
            with open(str(path), encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as err:
            _fail(f"{key}.password_file", f"cannot read {path}: {err.strerror}")
    if env:
        if not isinstance(env, str) or env not in os.environ:
            _fail(f"{key}.password_env", f"environment variable {env!r} is not set")
        return os.environ[env]
    return ""


def parse_lead_time(value, key="lead_time"):
    """``"day"`` (None: the whole coming day), seconds, or ``"<n>s|m|h|d"``."""
    if value in (None, "day"):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = DURATION_RE.match(str(value).strip())
    if not match:
        _fail(key, f"{value!r} must be 'day', a number of seconds or a duration like '30m', '2h'")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def _calendars(raw, base_url):
    if raw is None:
        return ()
    if not isinstance(raw, list):
        _fail("calendars", "must be a list of {url, trust, owner}")
    specs = []
    for i, item in enumerate(raw):
        key = f"calendars[{i}]"
        item = _mapping(item, key)
        url = _string(item, "url", f"{key}.url", required=True)
        url = urljoin(base_url, url)
        if urlsplit(url).netloc != urlsplit(base_url).netloc:
            _fail(f"{key}.url", f"{url!r} is not on the CalDAV server {base_url}")
        trust = item.get("trust", "owner")
        if trust not in TRUSTS:
            _fail(f"{key}.trust", f"{trust!r} must be one of {', '.join(TRUSTS)}")
        owner = item.get("owner")
        if trust == "owner" and not owner:
            _fail(f"{key}.owner", "is required under trust: owner (the user who books in it)")
        if trust == "summary" and owner:
            _fail(f"{key}.owner", "is not allowed under trust: summary (the event names the user)")
        specs.append(CalendarSpec(url=url if url.endswith("/") else url + "/", trust=trust,
                                  owner=str(owner) if owner else None))
    return tuple(specs)


def _salt(raw):
    section = _mapping(raw, "salt")
    mode = section.get("mode", "local")
    if mode not in SALT_MODES:
        _fail("salt.mode", f"{mode!r} must be one of {', '.join(SALT_MODES)}")
    spec = SaltSpec(
        mode=mode,
        master_config=_string(section, "master_config", "salt.master_config", "/etc/salt/master"),
        timeout=_integer(section, "timeout", "salt.timeout", 1800),
    )
    if mode == "api":
        spec = SaltSpec(
            mode=mode, master_config=spec.master_config, timeout=spec.timeout,
            url=_http_url(_string(section, "url", "salt.url", required=True), "salt.url"),
            username=_string(section, "username", "salt.username", required=True),
            password=_secret(section, "salt"),
            eauth=_string(section, "eauth", "salt.eauth", "pam"),
        )
    return spec


def _smtp(raw):
    section = _mapping(raw, "smtp")
    admins = section.get("admins", [])
    if not isinstance(admins, list) or not all(isinstance(a, str) and "@" in a for a in admins):
        _fail("smtp.admins", "must be a list of email addresses")
    starttls = section.get("starttls", False)
    if not isinstance(starttls, bool):
        _fail("smtp.starttls", f"{starttls!r} must be true or false")
    return SmtpSpec(
        host=_string(section, "host", "smtp.host", ""),
        port=_integer(section, "port", "smtp.port", 25),
        sender=_string(section, "from", "smtp.from", "jetson-farm@localhost"),
        starttls=starttls,
        username=_string(section, "username", "smtp.username", ""),
        password=_secret(section, "smtp"),
        timeout=_integer(section, "timeout", "smtp.timeout", 30),
        admins=tuple(admins),
    )


def build(raw, path=""):
    """A Config from the parsed YAML mapping ``raw``; ConfigError naming the first bad key."""
    raw = _mapping(raw, "the configuration")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        _fail(unknown[0], f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")
    caldav = _mapping(raw.get("caldav"), "caldav")
    base_url = _http_url(_string(caldav, "url", "caldav.url", required=True), "caldav.url")
    password = _secret(caldav, "caldav")
    lead_time = parse_lead_time(raw.get("lead_time", "day"))
    lookahead = parse_lead_time(raw.get("lookahead", "7d"), "lookahead")
    if lookahead is None:
        _fail("lookahead", "must be a duration like '7d'")
    salt = _salt(raw.get("salt"))
    smtp = _smtp(raw.get("smtp"))
    calendars = _calendars(raw.get("calendars"), base_url)
    template = _string(raw, "calendar_template", "calendar_template", "")
    if template and "{user}" not in template:
        _fail("calendar_template", f"{template!r} must contain {{user}}")
    if not calendars and not template:
        _fail("calendars", "give a list of calendars or a calendar_template, or both")
    timezone = raw.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            _fail("timezone", f"{timezone!r} is not a known time zone")
    inventory = _mapping(raw.get("inventory"), "inventory")
    pillar_file = _string(inventory, "pillar_file", "inventory.pillar_file", "")
    pillar_minion = _string(inventory, "salt_minion", "inventory.salt_minion", "")
    if not pillar_file and not pillar_minion:
        _fail("inventory", "give pillar_file (a YAML file with the jetson pillar) or salt_minion")
    if salt.mode == "api" and not pillar_file:
        _fail("inventory.pillar_file", "is required with salt.mode api (the bridge's eauth user "
              "may not read the pillar)")
    limits = _mapping(raw.get("limits"), "limits")
    ssh_line = _string(raw, "ssh_line", "ssh_line", Config.ssh_line)
    try:
        ssh_line.format(user="u", site="s", board="b", ip="127.0.0.1")
    except (KeyError, IndexError, ValueError) as err:
        _fail("ssh_line", f"{ssh_line!r} may use only {{user}}, {{site}}, {{board}}, {{ip}} ({err})")
    return Config(
        caldav_url=base_url,
        caldav_username=_string(caldav, "username", "caldav.username", ""),
        caldav_password=password,
        caldav_timeout=_integer(caldav, "timeout", "caldav.timeout", 30),
        calendars=calendars,
        calendar_template=template,
        timezone=str(timezone) if timezone else None,
        lead_time=lead_time,
        lookahead=lookahead,
        salt=salt,
        pillar_file=pillar_file,
        pillar_minion=pillar_minion,
        smtp=smtp,
        ledger=_string(raw, "ledger", "ledger", "/var/lib/jetson-farm/bridge.sqlite"),
        ssh_line=ssh_line,
        max_occurrences=_integer(limits, "max_occurrences", "limits.max_occurrences", 200),
        max_event_bytes=_integer(limits, "max_event_bytes", "limits.max_event_bytes", 262144),
        path=path,
    )


def load(path=DEFAULT_PATH):
    """Read and check the YAML file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the configuration: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    try:
        config = build(raw, path=path)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
    log.info("loaded the bridge configuration from %s", path)
    return config
