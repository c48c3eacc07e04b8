"""The key tables of the docs, written from the schemas so that they cannot drift.

``python -m jetson_farm.schema_docs`` rewrites each table between its markers::

    <!-- keys: inventory -->
    | key | type | default | meaning |
    ...
    <!-- end keys -->

in docs/inventory.md (the ``jetson`` pillar), docs/power-drivers.md (each driver's settings)
and docs/bridge-admin.md (the bridge configuration). ``tests/unit/test_schema_docs.py`` fails
when a table is not what this module writes.
"""

import pathlib
import re
import sys

from pydantic_core import PydanticUndefined

from jetson_farm.schema import doc_of, key_fields

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
BLOCK_RE = re.compile(r"(<!-- keys: (?P<name>[a-z-]+) -->\n)(?P<table>.*?)(<!-- end keys -->)", re.S)
HEADER = "| key | type | default | meaning |\n|---|---|---|---|\n"


def _schemas():
    """``{block name: (model, key prefix)}``, imported late: the bridge is optional for the core."""
    from calendar_bridge.config import BridgeSchema
    from jetson_farm.inventory_schema import InventorySchema
    from jetson_farm.power.registry import DRIVERS

    schemas = {"inventory": (InventorySchema, ""), "bridge": (BridgeSchema, "")}
    for name, module in DRIVERS.items():
        schemas[f"power-{name}"] = (module.Settings, "boards.<board>.power.")
    return schemas


def default_text(info):
    """How a field's default reads in a table."""
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(map(str, value)) + "]`" if value else "`[]`"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}`" if value else "`{}`"
    if hasattr(value, "model_fields"):
        return "-"
    return f"`{value}`"


def key_table(model, prefix=""):
    """The markdown table of every key of ``model`` (a header, then one row a key)."""
    lines = [f"| `{path}` | {doc_of(info)} | {default_text(info)} | {info.description or ''} |"
             for path, info in key_fields(model, prefix)]
    return HEADER + "\n".join(lines) + "\n"


def render(text):
    """``text`` with every marked key table rewritten from its schema."""
    schemas = _schemas()

    def table(match):
        model, prefix = schemas[match.group("name")]
        return match.group(1) + key_table(model, prefix) + match.group(4)

    return BLOCK_RE.sub(table, text)


def main():
    changed = []
    for page in ("inventory.md", "power-drivers.md", "bridge-admin.md"):
        path = DOCS / page
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(page)
    print("rewrote " + ", ".join(changed) if changed else "the key tables are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
