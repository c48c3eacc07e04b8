"""The validation vocabulary every config of the farm is declared with (pydantic v2).

The inventory (``jetson_farm.inventory_schema``), each power driver's settings
(``jetson_farm.power.drivers.*.Settings``) and the bridge configuration
(``calendar_bridge.config``) are pydantic models built from the field types below: strict,
``extra="forbid"``, each type carrying its own readable message.

``problems_of(error, root)`` turns a ``ValidationError`` into ``path: message`` lines
(``boards.jtk3.power.host: required``, ``boards.jtk3.power.hots: unknown key (did you mean
'host'?)``): pydantic's own error dumps never reach a user.
"""

import difflib
import ipaddress
import posixpath
import re
import types
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from jetson_farm.errors import InvalidName
from jetson_farm.names import check_name, parse_image

MAC_RE = re.compile(r"([0-9a-f]{2}:){5}[0-9a-f]{2}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
SSH_KEY_RE = re.compile(r"(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\n\r]*)?")
HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
TEXT_MAX = 1000  # the longest free text (a description, an address) a config may hold
SHOWN_MAX = 60  # how much of a bad value a message repeats


class StrictModel(BaseModel):
    """A config section: typed, frozen, and every unknown key is a mistake.

    ``unknown_key_hints`` maps a key that is refused on purpose to what to say instead of a
    did-you-mean (``password``: secrets are never written in a config).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    unknown_key_hints: ClassVar[dict] = {}


def shown(value):
    """``repr(value)``, cut short: a message never repeats a huge value whole."""
    text = repr(value)
    if len(text) <= SHOWN_MAX:
        return text
    return f"{text[:SHOWN_MAX]}... ({len(text)} characters)"


def type_name(value):
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "empty"}.get(type(value), type(value).__name__)


def refuse(message):
    """The error a field validator raises: ``message`` is shown as it is, after the path."""
    return PydanticCustomError("jetson", "{message}", {"message": message})


def field(check, doc):
    """A field type checked by ``check(value) -> value`` (which raises ``refuse(...)``).

    ``doc`` is what the docs' key tables say the type is.
    """
    return Annotated[Any, PlainValidator(check), FieldDoc(doc)]


class FieldDoc:
    """How a field's type reads in the docs (``IPv4``, ``absolute path``...)."""

    def __init__(self, text):
        self.text = text


def expect_string(value, what="a string", max_length=TEXT_MAX):
    if not isinstance(value, str):
        raise refuse(f"must be {what}, not {type_name(value)}")
    if len(value) > max_length:
        raise refuse(f"must be {what} of at most {max_length} characters, not {len(value)}")
    return value


def text(value):
    return expect_string(value)


def name_check(kind):
    """A check of ``kind`` names (``check_name``, its message kept)."""
    def check(value):
        try:
            return check_name(kind, expect_string(value, f"a {kind} name", 63))
        except InvalidName as err:
            raise refuse(str(err)) from None
    return check


def name_of(kind):
    return field(name_check(kind), "name")


def mapping(value):
    if not isinstance(value, dict):
        raise refuse(f"must be a mapping, not {type_name(value)}")
    return value


def image_ref(value):
    try:
        parse_image(expect_string(value, "an image 'user/name'", 127))
    except InvalidName as err:
        raise refuse(str(err)) from None
    return value


def image_or_empty(value):
    return value if value == "" else image_ref(value)


def ipv4(value):
    expect_string(value, "an IPv4 address", 64)
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise refuse(f"{shown(value)} is not an IPv4 address") from None


def ipv4_or_empty(value):
    return value if value == "" else ipv4(value)


def mac(value):
    value = expect_string(value, "a MAC address", 64).lower()
    if value and not MAC_RE.fullmatch(value):
        raise refuse(f"{shown(value)} is not a MAC address")
    return value


def abs_path(value):
    expect_string(value, "an absolute path", 4096)
    if not value.startswith("/"):
        raise refuse(f"{shown(value)} must be an absolute path")
    # normpath keeps a leading "//" (POSIX leaves its meaning to the system): refused too.
    if ".." in value.split("/") or posixpath.normpath(value) != value or value == "/" \
            or value.startswith("//"):
        raise refuse(f"{shown(value)} must be a normalised path without '..'")
    return value


def abs_path_or_empty(value):
    return value if value == "" else abs_path(value)


def email(value):
    expect_string(value, "an email address", 254)
    if value and not EMAIL_RE.fullmatch(value):
        raise refuse(f"{shown(value)} is not an email address")
    return value


def time_zone(value):
    expect_string(value, "an IANA time zone", 64)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise refuse(f"{shown(value)} is not a known time zone") from None
    return value


def host(value):
    if not HOST_RE.fullmatch(expect_string(value, "a host name or address", 253)):
        raise refuse(f"{shown(value)} is not a host name or address")
    return value


def number(value, minimum=None, maximum=None, integer=False, what="a number"):
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise refuse(f"{shown(value)} must be {what}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise refuse(f"{shown(value)} must be {what}")
    return value


def choice(*options, doc=None):
    """One of ``options``, refused as ``'x' is not one of ('a', 'b')``."""
    def check(value):
        if type(value) is not type(options[0]) or value not in options:
            raise refuse(f"{shown(value)} is not one of {options}")
        return value
    return field(check, doc or " or ".join(f"`{option}`" for option in options))


def list_of(check, what):
    """A list whose items pass ``check``, as a tuple (configs are frozen)."""
    def check_list(value):
        if not isinstance(value, list):
            raise refuse(f"must be a list of {what}, not {type_name(value)}")
        for i, item in enumerate(value):
            try:
                check(item)
            except PydanticCustomError as err:
                raise refuse(f"item {i}: {err.context['message']}") from None
        return tuple(value)
    return check_list


# -- turning pydantic's errors into ours -------------------------------------------------------

TYPE_MESSAGES = {
    "missing": "required",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "union_tag_not_found": "required",
}


def problems_of(error, root, prefix=""):
    """``path: message`` for every error in the ValidationError ``error`` of model ``root``.

    ``prefix`` (``boards.jtk3.power``) is put before each path.
    """
    return [f"{path}: {message}" if path else message for path, message in problem_items(error, root, prefix)]


def problem_items(error, root, prefix=""):
    """``[(path, message)]`` for every error in ``error`` (see ``problems_of``)."""
    found = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        node, path = _walk(root, loc[:-1] if item["type"] == "extra_forbidden" else loc, prefix)
        if item["type"] == "extra_forbidden":
            key = loc[-1]
            path = _join(path, key, node)
            message = _unknown_key(node, key)
        elif item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag = item["ctx"]["discriminator"].strip("'")
            path = _join(path, tag, None)
            message = _message(dict(item, input=item["input"].get(tag)), node)
        else:
            message = _message(item, node)
        found.append((path, message))
    return found


def _message(item, node):
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind == "jetson":
        return ctx["message"]
    if kind == "union_tag_invalid":
        tags = _tags(node)
        return f"{shown(item['input'])} is not one of {tags}" + _did_you_mean(item["input"], tags)
    if kind in TYPE_MESSAGES:
        message = TYPE_MESSAGES[kind]
        if kind in ("missing", "union_tag_not_found"):
            return message
        return f"{message}, not {type_name(item['input'])}"
    return item["msg"].replace("Input should be", "must be")


def _unknown_key(model, key):
    if not _is_model(model):
        return "unknown key"
    hint = model.unknown_key_hints.get(key) if isinstance(key, str) else None
    if hint:
        return hint
    return unknown_key(key, [info.alias or name for name, info in model.model_fields.items()])


def unknown_key(key, names):
    """``unknown key (did you mean 'host'?)``, or the known keys when none is close."""
    return "unknown key" + (_did_you_mean(key, names) or f" (known keys: {', '.join(sorted(names))})")


def _did_you_mean(key, names):
    close = difflib.get_close_matches(str(key)[:100], [str(n) for n in names], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_model(node):
    return isinstance(node, type) and issubclass(node, BaseModel)


def _strip(node):
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    return node


def _tags(node):
    """The discriminator values of the tagged union ``node``."""
    return tuple(tag for member in get_args(_strip(node)) for tag in _literal_tags(member))


def _literal_tags(model):
    if not _is_model(model) or "driver" not in model.model_fields:
        return ()
    return get_args(model.model_fields["driver"].annotation)


def _join(path, part, node):
    if isinstance(part, int) and get_origin(node) in (list, tuple):
        return f"{path}[{part}]"
    part = str(part)
    if len(part) > SHOWN_MAX:  # a key of a huge name
        part = f"{part[:SHOWN_MAX]}... ({len(part)} characters)"
    return f"{path}.{part}" if path else part


def _walk(root, loc, prefix):
    """The type found at ``loc`` under ``root``, and the dotted path of ``loc``."""
    node, path = root, prefix
    for part in loc:
        node = _strip(node)
        if part == "[key]":
            continue
        if get_origin(node) in (Union, types.UnionType):
            members = [m for m in get_args(node) if part in _literal_tags(m)]
            if members:  # a tagged union puts the tag in the location: not a key of the config
                node = members[0]
                continue
        path = _join(path, part, node)
        if _is_model(node):
            info = node.model_fields.get(part) or next(
                (i for i in node.model_fields.values() if i.alias == part), None)
            node = _field_type(info) if info else None
        elif get_origin(node) is dict:
            node = get_args(node)[1]
        elif get_origin(node) in (list, tuple):
            node = get_args(node)[0]
        else:
            node = None
    return _strip(node), path


def _field_type(info):
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


def doc_of(info):
    """How a model field's type reads in the docs."""
    for meta in info.metadata:
        if isinstance(meta, FieldDoc):
            return meta.text
    annotation = _strip(info.annotation)
    if get_origin(annotation) is list:
        item = get_args(annotation)[0]
        docs = [m.text for m in getattr(item, "__metadata__", ()) if isinstance(m, FieldDoc)]
        return f"list of {docs[0]}" if docs else "list"
    if annotation is bool:
        return "bool"
    if get_origin(annotation) is Literal:
        return " or ".join(f"`{a}`" for a in get_args(annotation))
    if _is_model(annotation):
        return "mapping"
    if get_origin(annotation) is dict:
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def key_fields(model, prefix=""):
    """``[(path, field info)]`` of every key ``model`` accepts (``sites.<site>.nfs.backend``...).

    A ``dict[str, Model]`` field's keys show as its ``json_schema_extra`` ``key`` (``<board>``),
    a ``list[Model]`` field's items as ``[]``.
    """
    found = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        annotation = _strip(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        args = [_strip(arg) for arg in get_args(annotation)]
        if _is_model(annotation):
            found.extend(key_fields(annotation, path + "."))
        elif get_origin(annotation) is dict and _is_model(args[1]):
            found.extend(key_fields(args[1], f"{path}.{extra.get('key', '<key>')}."))
        elif get_origin(annotation) is list and _is_model(args[0]):
            found.extend(key_fields(args[0], f"{path}[]."))
        else:
            found.append((path, info))
    return found


def key_paths(model, prefix=""):
    """Every key path ``model`` accepts (see ``key_fields``)."""
    return [path for path, _ in key_fields(model, prefix)]


Mac = field(mac, "MAC")
TimeZone = field(time_zone, "IANA zone")
