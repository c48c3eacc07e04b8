"""The life of one virtual device's child process: stop it, use it as a context manager."""

import subprocess

STOP_TIMEOUT = 10


class ChildProcess:
    """Base of a virtual device run as one child process; subclasses set ``_process`` in start()."""

    _process = None

    def start(self):
        raise NotImplementedError

    def stop(self):
        """Terminate the child, then kill it if it has not gone within STOP_TIMEOUT seconds."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=STOP_TIMEOUT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def read_lines(path, encoding="utf-8"):
    """The lines of a device's log file, or [] before it has written one."""
    try:
        with open(path, encoding=encoding) as handle:
            return [line.rstrip("\n").strip() for line in handle]
    except FileNotFoundError:
        return []
