"""Exporting boards' nfsroots over NFS: a kernel (exportfs) and an NFS-Ganesha backend.

Both backends have the same shape: ``exports(boards)``, ``export(board)``, ``unexport(board)``,
``is_exported(board)``, ``sessions(ip=None)``, ``reload()``; :func:`wait_idle` works on either.
"""

from jetson_farm.errors import NfsError
from jetson_farm.nfs.common import Result, wait_idle
from jetson_farm.nfs.ganesha import GaneshaBackend
from jetson_farm.nfs.kernel import KernelBackend

BACKENDS = {"kernel": KernelBackend, "ganesha": GaneshaBackend}

__all__ = ["BACKENDS", "GaneshaBackend", "KernelBackend", "Result", "backend_for", "wait_idle"]


def backend_for(nfs):
    """The backend object for a site's NfsConfig."""
    try:
        return BACKENDS[nfs.backend](nfs)
    except KeyError:
        raise NfsError(f"unknown NFS backend {nfs.backend!r}: choose one of {sorted(BACKENDS)}") from None
