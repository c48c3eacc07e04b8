"""Starting and stopping the lab's long-lived processes, each tracked by a pid file.

Each daemon runs in its own session (process group), so stopping it stops what it forked.
A pid file records the pid and the process's start time, so a recycled pid is never mistaken
for the lab's daemon.
"""

import logging
import os
import pathlib
import signal
import subprocess
import time

log = logging.getLogger(__name__)

STOP_WAIT = 15


def _start_time(pid):
    """The process's start time (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # A killed daemon whose new parent (pid 1 in a container) has not reaped it yet is gone.
    return None if fields[0] == "Z" else fields[19]


def read_pid(pid_file):
    """The pid recorded in ``pid_file`` if that very process still runs, else None."""
    try:
        pid_text, started = pathlib.Path(pid_file).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    return pid if _start_time(pid) == started else None


def start(name, args, pid_file, log_file, env=None):
    """Start ``args`` detached unless its pid file names a live process; the pid."""
    pid = read_pid(pid_file)
    if pid:
        log.info("%s already runs (pid %s)", name, pid)
        return pid
    pathlib.Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(pid_file).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd="/", env=env)
    pathlib.Path(pid_file).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    log.info("%s started (pid %s)", name, proc.pid)
    return proc.pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of this very process counts as gone.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(name, pid_file, wait=STOP_WAIT):
    """SIGTERM the daemon's process group, SIGKILL it after ``wait`` s; True if one ran."""
    pid = read_pid(pid_file)
    pathlib.Path(pid_file).unlink(missing_ok=True)
    if not pid:
        return False
    kill_group(pid, wait)
    log.info("%s stopped (pid %s)", name, pid)
    return True


def kill_group(pid, wait=STOP_WAIT):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not alive(pid):
                return
            time.sleep(0.1)
    log.warning("process group %s outlived SIGKILL", pid)
