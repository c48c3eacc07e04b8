"""The site server's rootfs image store (docs/architecture.md, "The site server"): list, swap, park,
reconcile, import, clone, remove. :class:`jetson_farm.rootfs.site.RootfsSite` is the one entry point."""

from jetson_farm.rootfs.site import RootfsSite

__all__ = ["RootfsSite"]
