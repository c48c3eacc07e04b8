"""One site job for many boards: each board's work runs alone and fails alone.

The switch engine (jetson_farm/switch.py) sends one job per site per step for every board of
the batch; the site modules' ``*_many`` functions run the board's work here and answer
``{"done": {board: result}, "failed": {board: message}}``, so one board's failure drops only
that board out of the batch.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from jetson_farm.errors import JetsonError

log = logging.getLogger(__name__)

MAX_THREADS = 32


def each(names, work, parallel=False, errors=(JetsonError,)):
    """``work(name)`` for every name: ``{"done": {name: result}, "failed": {name: message}}``.

    ``parallel`` runs them in threads (for waits, such as a board going down); ``errors`` are
    the exception types that fail one board (the Salt doors add their own).
    """
    names = list(dict.fromkeys(names))

    def one(name):
        try:
            return name, True, work(name)
        except errors as err:
            log.warning("%s: %s", name, err)
            return name, False, str(err)

    if parallel and len(names) > 1:
        with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(names))) as pool:
            outcomes = list(pool.map(one, names))
    else:
        outcomes = [one(name) for name in names]
    report = {"done": {}, "failed": {}}
    for name, ok, value in outcomes:
        report["done" if ok else "failed"][name] = value
    return report
