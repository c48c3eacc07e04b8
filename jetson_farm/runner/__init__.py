"""The master side of the farm: leases, history, status and the switch steps (runner ``jetson``).

Plain Python: the Salt door (salt/_runners/jetson.py) hands in the database path, the inventory
and a :class:`jetson_farm.runner.saltops.SaltOps` that talks to the minions.
"""
