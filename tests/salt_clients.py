"""Salt's own clients in the test process, for the harness's questions (a pillar refresh, a ping,
a site's journals, a board's marker, the history): a job sent from here costs milliseconds where a
``salt`` or ``salt-run`` CLI process costs about a CPU-second. Tests whose subject is a CLI (its
output, its exit code, ``state.orch``) keep running that CLI.

Each call builds its clients from the master's config file and destroys them before it returns,
so nothing (event bus sockets, loop threads) outlives the question.
"""

import salt.client
import salt.config
import salt.runner


def master_opts(config_file):
    """The options a ``salt -c <dir>`` CLI reads, from the master's config file (``<dir>/master``)."""
    return salt.config.master_config(str(config_file))


def job(config_file, tgt, fun, args=(), kwargs=None, timeout=60, tgt_type="glob"):
    """``{minion: {"ret": ..., "retcode": ...}}`` of one job published through the master; a minion
    that did not answer within ``timeout`` (and Salt's job check after it) is missing. ``fun`` may be
    a list of functions with ``args`` a list of argument lists: one job for them all."""
    with salt.client.LocalClient(mopts=master_opts(config_file)) as client:
        return client.cmd(tgt, fun, list(args), timeout=timeout, tgt_type=tgt_type, kwarg=kwargs,
                          full_return=True)


def succeeded(found):
    """Whether one minion's full return says every function in its job succeeded."""
    if not isinstance(found, dict) or "ret" not in found:
        return False
    retcode = found.get("retcode", 0)
    codes = retcode.values() if isinstance(retcode, dict) else [retcode]
    return all(code == 0 for code in codes) and found.get("success", True) is not False


def answer(config_file, minion, fun, *args, timeout=60, **kwargs):
    """What ``minion`` returned for ``fun``; fails naming the question when it did not answer or failed."""
    found = job(config_file, minion, fun, args, kwargs or None, timeout).get(minion)
    assert succeeded(found), f"{fun} {list(args)} {kwargs} on {minion}: {found!r}"
    return found["ret"]


def run(config_file, fun, **kwargs):
    """A runner's return, run in this process as ``salt-run`` runs it in its own; fails naming the
    runner when it failed (its return carries a non-zero ``retcode`` or it raised)."""
    with salt.runner.RunnerClient(master_opts(config_file)) as client:
        found = client.cmd(fun, kwarg=kwargs, print_event=False, full_return=True)
    ret = found.get("return")
    retcode = found.get("retcode") or (isinstance(ret, dict) and ret.get("retcode"))
    assert found.get("success") and not retcode, f"salt-run {fun} {kwargs}: {found!r}"
    return ret
