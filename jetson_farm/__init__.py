"""jetson-farm core: plain Python that the Salt modules, the runner and the bridge call.

Nothing here reads ``__salt__`` or ``__opts__``: each function takes what it needs as
arguments and raises the small exception family of :mod:`jetson_farm.errors`.
"""

# The one place the version is written (pyproject.toml reads it). Every file under salt/_*/
# repeats it as ``__jetson_farm_version__``, so a stale synced copy can be told apart.
__version__ = "0.1.0"
