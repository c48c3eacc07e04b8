"""One module per power driver, all with the same shape (see jetson_farm.power.base)."""
