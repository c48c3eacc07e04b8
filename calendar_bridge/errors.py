"""The bridge's own errors; each message names what is wrong and where, so it reads on its own."""

from jetson_farm.errors import JetsonError


class BridgeError(JetsonError):
    """Base of the errors the bridge raises on purpose."""


class ConfigError(BridgeError):
    """The bridge configuration is unusable; the message names the key and the problem."""


class CalendarError(BridgeError):
    """A CalDAV server or calendar could not be read or written (URL and reason in the message)."""


class CalendarMissing(CalendarError):
    """The calendar does not exist (a user who never made one under the URL template)."""


class SaltError(BridgeError):
    """Salt could not be reached, or refused or failed a call."""


class BookingRefused(BridgeError):
    """One event is not a valid booking; the message is the reason written back to it."""
