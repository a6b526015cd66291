"""CalDAV adapter (C28, C44): iCloud, Fastmail, Nextcloud and any RFC 4791 server.

`discovery` finds the account (presets by email domain, RFC 6764, Nextcloud's path),
`client` is its `CalendarClient` (free/busy by calendar-query with recurrences expanded by
us, writes by conditional PUT, sync by RFC 6578), `sync` the incremental listing, `wire`
iCalendar ↔ our value types, `dav` the WebDAV XML, `http` one request with the error mapping
of `errors`, and `connector` the registry's `CalDavProvider` seam. CalDAV has no push here:
calendars are polled.

The names other code uses are importable from here.
"""

from slotgraph.providers.base import NotACalDavServer
from slotgraph.providers.caldav.client import CalDavCalendarClient
from slotgraph.providers.caldav.connector import CalDavConnector
from slotgraph.providers.caldav.connector import CalDavSettings
from slotgraph.providers.caldav.discovery import PRESETS
from slotgraph.providers.caldav.discovery import Nameserver
from slotgraph.providers.caldav.errors import AUTH_FAILED_MESSAGE
from slotgraph.providers.caldav.wire import uid_for

__all__ = [
    "AUTH_FAILED_MESSAGE",
    "PRESETS",
    "CalDavCalendarClient",
    "CalDavConnector",
    "CalDavSettings",
    "Nameserver",
    "NotACalDavServer",
    "uid_for",
]
