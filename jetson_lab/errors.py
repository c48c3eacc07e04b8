"""The lab's errors: all are JetsonError, so the power driver turns them into Salt errors."""

from jetson_farm.errors import JetsonError


class LabError(JetsonError):
    """The lab could not do what was asked; the message says which board and why."""


class LabUnavailable(LabError):
    """No lab supervisor answers at the given socket."""


class BootFailed(LabError):
    """A board could not boot from its nfsroot (unexported, empty, or no identity)."""
