"""The exception family of the jetson-farm core.

The Salt doors turn these into ``CommandExecutionError``/``SaltInvocationError``; states and
runners branch on the type, never on the message.
"""


class JetsonError(Exception):
    """Base of every error the core raises on purpose."""


class InvalidName(JetsonError, ValueError):
    """A board, user or image name that may not reach a path or a command."""


class InventoryError(JetsonError):
    """The ``jetson`` pillar breaks one or more rules; ``problems`` lists every one."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("invalid jetson inventory: " + "; ".join(self.problems))


class NotFound(JetsonError, LookupError):
    """A board, user or image that does not exist."""


class Refused(JetsonError):
    """The request is valid but the farm's state forbids it now (exported, booked, leased...)."""


class NotAllowed(Refused):
    """A user asked for something that is not theirs (rule 3)."""


class UnsafePath(JetsonError):
    """A path inside a rootfs that would leave it: a symlink, ``..`` or an absolute member."""


class CrossDevice(JetsonError):
    """The store and an nfsroot are not on one file system, so a swap cannot be a rename."""


class NfsError(JetsonError):
    """An NFS server command failed."""


class Timeout(JetsonError, TimeoutError):
    """A wait ran out; the message says what still held."""
