"""The CalDAV side: a closed time-range query per calendar, and saves with an ETag precondition.

Every failure becomes a CalendarError naming the URL and the reason. A save whose ETag no
longer matches (the user edited the event meanwhile) is not an error: ``save`` returns False,
and the event is read again on the next run. Servers report it differently (Radicale: 412 on
If-Match; Xandikos also keeps a Schedule-Tag, which python-caldav would prefer), so the save
asks for an ETag precondition and both mismatch errors are caught.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

import caldav
import requests
from caldav.elements import dav
from caldav.lib import error as dav_error

from calendar_bridge.errors import CalendarError, CalendarMissing

log = logging.getLogger(__name__)

MISMATCH_ERRORS = (dav_error.ETagMismatchError, dav_error.ScheduleTagMismatchError)
TRANSPORT_ERRORS = (dav_error.DAVError, requests.RequestException, OSError)
FLOATING_MARGIN = timedelta(days=1)  # a floating or all-day time is at most 14 h from UTC


@dataclass(frozen=True)
class RawObject:
    """One calendar object resource as the server gave it."""

    calendar_url: str
    href: str
    etag: str
    data: str


class CalendarStore:
    """The CalDAV server of the configuration, logged in as the bridge."""

    def __init__(self, url, username, password, timeout=30):
        self.url = url
        self.client = caldav.DAVClient(url=url, username=username or None,
                                       password=password or None, timeout=timeout)

    def _calendar(self, calendar_url):
        return self.client.calendar(url=calendar_url)

    def check(self, calendar_url):
        """The calendar's display name; CalendarError if it cannot be found or read."""
        try:
            return self._calendar(calendar_url).get_display_name() or calendar_url
        except TRANSPORT_ERRORS as err:
            raise CalendarError(f"calendar {calendar_url}: cannot be read: {_reason(err)}") from err

    def fetch(self, calendar_url, start, end):
        """The objects of the calendar with an event in [start, end) (server-side filter), as
        stored: nothing is expanded here (calendar_bridge.occurrences bounds it first)."""
        try:
            # python-caldav would check every object against the range itself (post_filter),
            # expanding each series in full however often it repeats. The server's filter with
            # a day more on each side (floating and all-day times) is enough: the reader cuts.
            found = self._calendar(calendar_url).search(
                start=start - FLOATING_MARGIN, end=end + FLOATING_MARGIN, event=True,
                expand=False, post_filter=False)
        except dav_error.NotFoundError as err:
            raise CalendarMissing(f"calendar {calendar_url}: not found on the server") from err
        except TRANSPORT_ERRORS as err:
            raise CalendarError(f"calendar {calendar_url}: time-range query failed: {_reason(err)}") from err
        objects = []
        for item in found:
            etag = item.props.get(dav.GetEtag.tag) or ""
            objects.append(RawObject(calendar_url, str(item.url), etag, item.data))
        log.debug("%s: %d objects between %s and %s", calendar_url, len(objects), start, end)
        return objects

    def get(self, calendar_url, href):
        """The object at ``href`` freshly read, or None if it is gone."""
        try:
            response = self.client.request(href, "GET")
        except TRANSPORT_ERRORS as err:
            raise CalendarError(f"event {href}: cannot be read: {_reason(err)}") from err
        if response.status == 404:
            return None
        if response.status >= 400:
            raise CalendarError(f"event {href}: GET answered {response.status}")
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        raw = response.raw
        data = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return RawObject(calendar_url, href, headers.get("etag", ""), data)

    def save(self, raw, data):
        """PUT ``data`` over ``raw`` if the server still has ``raw.etag``; False if it does not.

        SEQUENCE is not touched: the status is the bridge's note, not a new revision.
        """
        if not raw.etag:
            raise CalendarError(f"event {raw.href}: the server gave no ETag, so it cannot be "
                                "saved without risking the user's edits")
        event = caldav.Event(self.client, url=raw.href, parent=self._calendar(raw.calendar_url),
                             props={dav.GetEtag.tag: raw.etag})
        try:
            event.save(raw_data=data.encode("utf-8"), increase_seqno=False, precondition="etag")
        except MISMATCH_ERRORS:
            log.info("event %s changed on the server since it was read; it is read again next run",
                     raw.href)
            return False
        except dav_error.NotFoundError:
            log.info("event %s was deleted meanwhile", raw.href)
            return False
        except TRANSPORT_ERRORS as err:
            raise CalendarError(f"event {raw.href}: cannot be saved: {_reason(err)}") from err
        return True


def _reason(err):
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]
