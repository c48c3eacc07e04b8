"""jetson-farm core: plain Python that the Salt modules, the runner and the bridge call.

Nothing here reads ``__salt__`` or ``__opts__``: each function takes what it needs as
arguments and raises the small exception family of :mod:`jetson_farm.errors`.
"""
