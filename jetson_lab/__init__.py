"""Virtual boards (real salt-minions in network namespaces) and a whole local farm."""
