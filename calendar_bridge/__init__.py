"""The calendar bridge: bookings in CalDAV calendars become board switches and releases.

docs/architecture.md, "Bookings", is the contract. The pure parts (reading an iCalendar object, parsing a
booking, deciding) take plain values; the doors (CalDAV, Salt, SMTP, SQLite) are each one module.
"""
