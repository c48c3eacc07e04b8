"""``jetson-image``: the self-service of a site server's store, for the user who runs it.

:mod:`.caller` tells who runs it (the OS identity, never an argument) and reads the site's
config; :mod:`.images` is what a user may do with their own images (quota first); :mod:`.cli`
is the command. The store's own code (:mod:`jetson_farm.rootfs`) does every write.
See docs/architecture.md ("Self-service images").
"""
