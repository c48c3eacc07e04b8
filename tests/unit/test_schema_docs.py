"""The docs' key tables are the schemas: a key added, renamed or removed in one fails here."""

import re

import pytest
import yaml

from calendar_bridge.config import BridgeSchema
from jetson_farm.inventory_schema import InventorySchema
from jetson_farm.power.registry import DRIVERS
from jetson_farm.schema import key_paths
from jetson_farm.schema_docs import BLOCK_RE, DOCS, render

ROW_RE = re.compile(r"^\| `([^`]+)` \|", re.M)
PAGES = {"inventory.md": {"inventory": (InventorySchema, "")},
         "bridge-admin.md": {"bridge": (BridgeSchema, "")},
         "power-drivers.md": {f"power-{name}": (module.Settings, "boards.<board>.power.")
                              for name, module in DRIVERS.items()}}


def blocks(page):
    return {match.group("name"): ROW_RE.findall(match.group("table"))
            for match in BLOCK_RE.finditer((DOCS / page).read_text(encoding="utf-8"))}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_key_of_the_schema_has_its_row_and_every_row_its_key(page):
    found = blocks(page)
    assert sorted(found) == sorted(PAGES[page]), f"docs/{page}: the key tables are not those of the schemas"
    for name, (model, prefix) in PAGES[page].items():
        documented, declared = found[name], key_paths(model, prefix)
        assert set(declared) - set(documented) == set(), f"docs/{page}: keys of the schema with no row"
        assert set(documented) - set(declared) == set(), f"docs/{page}: rows for keys the schema lacks"
        assert len(documented) == len(set(documented)), f"docs/{page}: a key has two rows"


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_tables_are_what_the_schema_writes(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    assert render(text) == text, (f"docs/{page} differs from its schema: run "
                                  "`python -m jetson_farm.schema_docs` and review the change")


def test_the_inventory_table_has_no_garbled_row():
    table = next(m.group("table") for m in BLOCK_RE.finditer((DOCS / "inventory.md").read_text()))
    for line in table.strip().splitlines():
        assert line.count("|") == 5, f"not a 4-column row: {line}"
    assert "| `boards.<board>.image` | `user/name` | - | its own default image" in table


def test_the_documented_bridge_example_follows_the_schema():
    text = (DOCS / "bridge-admin.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(caldav:.*?)```", text, re.S).group(1)
    BridgeSchema.model_validate(yaml.safe_load(example))


def test_the_documented_driver_example_declares_its_settings_the_same_way():
    text = (DOCS / "power-drivers.md").read_text(encoding="utf-8")
    namespace = {}
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "power-drivers.md", "exec"), namespace)
    settings = namespace["Settings"]
    assert settings.model_validate({"driver": "acme", "host": "relay1"}).relay == 1
    with pytest.raises(ValueError, match="host"):
        settings.model_validate({"driver": "acme", "hots": "relay1"})
