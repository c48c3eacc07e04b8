"""The site server's rootfs image store (DESIGN.md section 4): list, swap, park, reconcile,
import, clone, remove. :class:`jetson_farm.rootfs.site.RootfsSite` is the one entry point."""

from jetson_farm.rootfs.site import RootfsSite

__all__ = ["RootfsSite"]
