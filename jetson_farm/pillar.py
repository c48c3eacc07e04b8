"""Reading the inventory from a Salt minion's or master's view of the pillar."""

from jetson_farm.inventory import Inventory


def site_context(pillar, minion_id):
    """``(inventory, site)`` for the site server ``minion_id``; InventoryError/NotFound else."""
    inventory = Inventory.load(pillar.get("jetson", {}) if isinstance(pillar, dict) else {})
    return inventory, inventory.site_of_minion(minion_id)
