"""The bridge configuration: one YAML file, checked against one schema (docs/bridge-admin.md).

The keys, their types and defaults are declared once, in ``BridgeSchema`` below (the key table
of docs/bridge-admin.md is checked against it by a test). Every problem is reported at once,
as ``<key>: <what is wrong>``. Secrets are read from a file or an environment variable named in
the config, never from the command line nor from the config itself.
"""

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import yaml
from pydantic import Field, ValidationError

from calendar_bridge.errors import ConfigError
from jetson_farm.schema import (
    StrictModel,
    TimeZone,
    email,
    expect_string,
    list_of,
    name_of,
    number,
    problem_items,
    refuse,
    shown,
    text,
    type_name,
)
from jetson_farm.schema import field as typed

log = logging.getLogger(__name__)

DEFAULT_PATH = "/etc/jetson-farm/bridge.yaml"
DURATION_RE = re.compile(r"^(\d+)\s*([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
NO_SECRETS = {"password": "secrets may not be written in the config; use password_file or password_env"}


def parse_lead_time(value, key="lead_time"):
    """``"day"`` (None: the whole coming day), seconds, or ``"<n>s|m|h|d"``; ConfigError else."""
    if value in (None, "day"):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    match = DURATION_RE.match(value.strip()) if isinstance(value, str) and len(value) < 32 else None
    if not match:
        raise ConfigError(f"{key}: {shown(value)} must be 'day', a number of seconds or a duration like "
                          "'30m', '2h'")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def _http_url(value):
    parts = urlsplit(expect_string(value, "an http(s) URL", 2048))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse(f"{shown(value)} is not an http(s) URL")
    return value


def _duration(value):
    try:
        parse_lead_time(value)
    except ConfigError as err:
        raise refuse(str(err).split(": ", 1)[1]) from None
    return value


def _env_name(value):
    if value and not ENV_RE.fullmatch(expect_string(value, "an environment variable name", 64)):
        raise refuse(f"{shown(value)} is not an environment variable name")
    return value


def _one_of(*options):
    def check(value):
        if not isinstance(value, str) or value not in options:
            raise refuse(f"{shown(value)} must be one of {', '.join(options)}")
        return value
    return typed(check, " or ".join(f"`{o}`" for o in options))


Text = typed(text, "string")
Url = typed(_http_url, "http(s) URL")
Positive = typed(lambda value: number(value, minimum=1, integer=True, what="an integer >= 1"), "integer >= 1")
Duration = typed(_duration, "`day`, seconds or `<n>s/m/h/d`")
EnvName = typed(_env_name, "environment variable name")


class CaldavSchema(StrictModel):
    unknown_key_hints = NO_SECRETS
    url: Url = Field(description="the CalDAV server")
    username: Text = Field("", description="may read and write the booking calendars")
    password_file: Text = Field("", description="a file holding its password")
    password_env: EnvName = Field("", description="or the environment variable holding it")
    timeout: Positive = Field(30, description="seconds, every CalDAV request")


class CalendarSchema(StrictModel):
    url: Text = Field(description="the calendar, absolute or relative to `caldav.url`")
    trust: _one_of("owner", "summary") = Field("owner", description="`owner`: its owner books in it; "
                                                                    "`summary`: each event names the user")
    owner: name_of("user") = Field(None, description="the user who books in it (`trust: owner`)")


class SaltSchema(StrictModel):
    unknown_key_hints = NO_SECRETS
    mode: _one_of("local", "api") = Field("local", description="`local`: RunnerClient in the bridge's "
                                                               "process, as salt-run; `api`: salt-api")
    master_config: Text = Field("/etc/salt/master", description="the master's config (mode local)")
    timeout: Positive = Field(1800, description="seconds, one orchestration")
    url: Url = Field("", description="salt-api's URL (mode api)")
    username: Text = Field("", description="the eauth user (mode api)")
    password_file: Text = Field("", description="a file holding its password (mode api)")
    password_env: EnvName = Field("", description="or the environment variable holding it (mode api)")
    eauth: Text = Field("pam", description="the eauth backend (mode api)")


class InventorySource(StrictModel):
    pillar_file: Text = Field("", description="a YAML file with the jetson pillar (`jetson: {...}`); needed "
                                              "in api mode")
    salt_minion: Text = Field("", description="or the minion whose compiled pillar to read (mode local)")


class SmtpSchema(StrictModel):
    unknown_key_hints = NO_SECRETS
    host: Text = Field("", description="the mail relay; empty: no mail")
    port: Positive = Field(25, description="its port")
    sender: Text = Field("jetson-farm@localhost", alias="from", description="the sender address")
    starttls: bool = Field(False, description="upgrade the connection with STARTTLS")
    username: Text = Field("", description="SMTP login")
    password_file: Text = Field("", description="a file holding its password")
    password_env: EnvName = Field("", description="or the environment variable holding it")
    timeout: Positive = Field(30, description="seconds, one mail")
    admins: typed(list_of(email, "email addresses"), "list of addresses") = Field(
        (), description="told of every failure, with every pillar user with `admin: true`")


class LimitsSchema(StrictModel):
    max_occurrences: Positive = Field(200, description="a series with more occurrences around the window is "
                                                       "refused")
    max_event_bytes: Positive = Field(262144, description="a bigger calendar object is refused")


class BridgeSchema(StrictModel):
    caldav: CaldavSchema = Field({}, validate_default=True, description="the CalDAV server")
    calendars: list[CalendarSchema] = Field([], description="the calendars to read")
    calendar_template: Text = Field("", description="one calendar per pillar user (`{user}/boards/`, trust "
                                                    "owner)")
    timezone: TimeZone = Field(None, description="floating times are read in it (default: the pillar's "
                                                 "`jetson:timezone`)")
    lead_time: Duration = Field("day", description="`day`: the whole farm-local day of the run; or `10m`, "
                                                   "`2h`...: slots starting this soon are switched")
    lookahead: Duration = Field("7d", description="bookings this far ahead are read (first seen, "
                                                  "conflicts), not acted on")
    salt: SaltSchema = Field(SaltSchema(), description="how the bridge reaches Salt")
    inventory: InventorySource = Field(InventorySource(), description="where the jetson pillar is read")
    smtp: SmtpSchema = Field(SmtpSchema(), description="the mail")
    ledger: Text = Field("/var/lib/jetson-farm/bridge.sqlite", description="the bridge's SQLite memory")
    ssh_line: Text = Field("ssh -J {user}@{site} root@{board}",
                           description="the line mailed to the user: `{user}` `{site}` `{board}` `{ip}`")
    limits: LimitsSchema = Field(LimitsSchema(), description="what one event may cost")


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


SKIP = object()  # a value whose own key is wrong: the rules that need it are not run


class _Raw:
    """The parsed YAML, read by dotted path; a value under a wrong path reads as SKIP."""

    def __init__(self, raw, wrong):
        self.raw, self.wrong = raw, wrong

    def get(self, path, default=None):
        if any(path == bad or path.startswith((bad + ".", bad + "[")) for bad in self.wrong):
            return SKIP
        node = self.raw
        for part in path.split("."):
            name, _, index = part.partition("[")
            if not isinstance(node, dict) or name not in node:
                return default
            node = node[name]
            if index:
                if not isinstance(node, list) or int(index[:-1]) >= len(node):
                    return default
                node = node[int(index[:-1])]
        return node


def _calendar_problems(raw, base_url):
    problems = []
    calendars = raw.get("calendars", [])
    for i in range(len(calendars) if isinstance(calendars, list) else 0):
        key = f"calendars[{i}]"
        url, trust, owner = (raw.get(f"{key}.{name}", default) for name, default in
                             (("url", None), ("trust", "owner"), ("owner", None)))
        if base_url not in (None, SKIP) and isinstance(url, str):
            if urlsplit(urljoin(base_url, url)).netloc != urlsplit(base_url).netloc:
                problems.append(f"{key}.url: {shown(url)} is not on the CalDAV server {base_url}")
        if trust == "owner" and owner is None:
            problems.append(f"{key}.owner: required under trust: owner (the user who books in it)")
        if trust == "summary" and owner not in (None, SKIP):
            problems.append(f"{key}.owner: not allowed under trust: summary (the event names the user)")
    template = raw.get("calendar_template", "")
    if isinstance(template, str) and template and "{user}" not in template:
        problems.append(f"calendar_template: {shown(template)} must contain {{user}}")
    if not calendars and not template:
        problems.append("calendars: give a list of calendars or a calendar_template, or both")
    return problems


def _rule_problems(raw):
    """The rules over several keys, for every key that is right on its own."""
    problems = _calendar_problems(raw, raw.get("caldav.url"))
    if raw.get("lookahead") == "day":
        problems.append("lookahead: must be a duration like '7d'")
    pillar_file, minion = raw.get("inventory.pillar_file", ""), raw.get("inventory.salt_minion", "")
    if not pillar_file and not minion:
        problems.append("inventory: give pillar_file (a YAML file with the jetson pillar) or salt_minion")
    if raw.get("salt.mode") == "api":
        for key in ("url", "username"):
            if not raw.get(f"salt.{key}"):
                problems.append(f"salt.{key}: required with salt.mode api")
        if not pillar_file:
            problems.append("inventory.pillar_file: required with salt.mode api (the bridge's eauth user "
                            "may not read the pillar)")
    ssh_line = raw.get("ssh_line", BridgeSchema.model_fields["ssh_line"].default)
    if isinstance(ssh_line, str):
        try:
            ssh_line.format(user="u", site="s", board="b", ip="127.0.0.1")
        except (KeyError, IndexError, ValueError) as err:
            problems.append(f"ssh_line: {shown(ssh_line)} may use only {{user}}, {{site}}, {{board}}, {{ip}} "
                            f"({err})")
    return problems


def _secret(raw, key, problems):
    """The secret named by ``<key>.password_file`` or ``<key>.password_env`` ('' when neither is set)."""
    path, env = raw.get(f"{key}.password_file", ""), raw.get(f"{key}.password_env", "")
    if SKIP in (path, env):
        return ""
    if path and env:
        problems.append(f"{key}: give password_file or password_env, not both")
    elif path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as err:
            problems.append(f"{key}.password_file: cannot read {path}: {err.strerror}")
    elif env:
        if env not in os.environ:
            problems.append(f"{key}.password_env: environment variable {env!r} is not set")
        return os.environ.get(env, "")
    return ""


def build(raw, path=""):
    """A Config from the parsed YAML mapping ``raw``; ConfigError naming every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(f"the configuration must be a mapping, not {type_name(raw)}")
    problems, schema, wrong = [], None, set()
    try:
        schema = BridgeSchema.model_validate(raw)
    except ValidationError as err:
        items = problem_items(err, BridgeSchema)
        problems += [f"{where}: {message}" for where, message in items]
        wrong = {where for where, _ in items}
    view = _Raw(raw, wrong)
    problems += _rule_problems(view)
    secrets = {key: _secret(view, key, problems) for key in ("caldav", "salt", "smtp")}
    if problems:
        raise ConfigError("\n".join(problems))
    return _config(schema, secrets, path)


def _config(schema, secrets, path):
    base_url = schema.caldav.url if schema.caldav.url.endswith("/") else schema.caldav.url + "/"
    salt, smtp = schema.salt, schema.smtp
    calendars = []
    for item in schema.calendars:
        url = urljoin(base_url, item.url)
        calendars.append(CalendarSpec(url=url if url.endswith("/") else url + "/", trust=item.trust,
                                      owner=item.owner))
    salt_url = salt.url if not salt.url or salt.url.endswith("/") else salt.url + "/"
    return Config(
        caldav_url=base_url,
        caldav_username=schema.caldav.username,
        caldav_password=secrets["caldav"],
        caldav_timeout=schema.caldav.timeout,
        calendars=tuple(calendars),
        calendar_template=schema.calendar_template,
        timezone=schema.timezone,
        lead_time=parse_lead_time(schema.lead_time),
        lookahead=parse_lead_time(schema.lookahead, "lookahead"),
        salt=SaltSpec(mode=salt.mode, master_config=salt.master_config, timeout=salt.timeout,
                      **({"url": salt_url, "username": salt.username, "password": secrets["salt"],
                          "eauth": salt.eauth} if salt.mode == "api" else {})),
        pillar_file=schema.inventory.pillar_file,
        pillar_minion=schema.inventory.salt_minion,
        smtp=SmtpSpec(host=smtp.host, port=smtp.port, sender=smtp.sender, starttls=smtp.starttls,
                      username=smtp.username, password=secrets["smtp"], timeout=smtp.timeout,
                      admins=tuple(smtp.admins)),
        ledger=schema.ledger,
        ssh_line=schema.ssh_line,
        max_occurrences=schema.limits.max_occurrences,
        max_event_bytes=schema.limits.max_event_bytes,
        path=path,
    )


def load(path=DEFAULT_PATH):
    """Read and check the YAML file at ``path``; ConfigError naming every problem, each on a line."""
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
        raise ConfigError("\n".join(f"{path}: {line}" for line in str(err).splitlines())) from err
    log.info("loaded the bridge configuration from %s", path)
    return config
