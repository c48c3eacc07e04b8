"""Exporting boards' nfsroots over NFS: a kernel (exportfs) and an NFS-Ganesha backend.

Both backends have the same shape: ``exports(boards)``, ``export(board)``, ``unexport(board)``,
``is_exported(board)``, ``sessions(ip=None)``, ``reload()``, and ``export_many``/``unexport_many``
(one job for several boards); :func:`wait_idle` and :func:`end_sessions` work on either.
"""

from jetson_farm.errors import NfsError
from jetson_farm.nfs.common import Result, end_sessions, wait_idle
from jetson_farm.nfs.ganesha import GaneshaBackend
from jetson_farm.nfs.kernel import KernelBackend

BACKENDS = {"kernel": KernelBackend, "ganesha": GaneshaBackend}

__all__ = ["BACKENDS", "GaneshaBackend", "KernelBackend", "Result", "backend_for", "end_sessions",
           "wait_idle"]


def backend_for(nfs):
    """The backend object for a site's NfsConfig."""
    try:
        return BACKENDS[nfs.backend](nfs)
    except KeyError:
        raise NfsError(f"unknown NFS backend {nfs.backend!r}: choose one of {sorted(BACKENDS)}") from None
