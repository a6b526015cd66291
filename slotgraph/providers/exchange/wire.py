"""EWS items ↔ the frozen value types of `slotgraph.providers.base`, and the values the
adapter stores (sync cursors, API versions).

All-day items are reported as dates: the item's instants read in its own start zone (the
mailbox's zone when it names none), then placed in the calendar's zone by `busy_interval`
(C4). exchangelib's own all-day conversion is bypassed where we can (it subtracts 24 hours
from the end instant, which gives the wrong date when the last day is a DST day); where the
answer says IsAllDayEvent unasked, exchangelib hands over dates, which are taken as given.
`LegacyFreeBusyStatus` and `MyResponseType` map to `ShowAs` and `Response`; an unknown status
is busy (C4).

The sync cursor wraps the SyncFolderItems sync state with short fingerprints of the
calendar's recurring masters (see `sync`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from typing import Any
from typing import Final
from zoneinfo import ZoneInfo

from exchangelib import Build
from exchangelib import EWSDateTime
from exchangelib import EWSTimeZone
from exchangelib import Version
from exchangelib.errors import UnknownTimeZone
from exchangelib.properties import Attendee as EwsAttendee
from exchangelib.properties import Mailbox
from exchangelib.version import VERSIONS

from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventStatus
from slotgraph.providers.base import Interval
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Response
from slotgraph.providers.base import ShowAs
from slotgraph.providers.busy import all_day_span

KEY_FIELD: Final = "slotgraph_idempotency_key"
ALL_DAY_FIELD: Final = "slotgraph_all_day"


_SHOW_AS = {
    "Busy": ShowAs.BUSY,
    "Tentative": ShowAs.TENTATIVE,
    "OOF": ShowAs.OUT_OF_OFFICE,
    "WorkingElsewhere": ShowAs.WORKING_ELSEWHERE,
    "Free": ShowAs.FREE,
}
_RESPONSE = {
    "Organizer": Response.ORGANIZER,
    "Accept": Response.ACCEPTED,
    "Tentative": Response.TENTATIVE,
    "Decline": Response.DECLINED,
    "NoResponseReceived": Response.NEEDS_ACTION,
}


def to_event(item: Any, mailbox_zone: str) -> RemoteEvent:
    private = item.sensitivity in ("Private", "Confidential")
    if not isinstance(item.start, dt.datetime) or not isinstance(item.end, dt.datetime):
        # Dates instead of instants: exchangelib turns an all-day item's times into dates
        # whenever the answer says IsAllDayEvent. They are the item's own dates (C4).
        first, last, all_day = _dates(item)
    else:
        first, last = plain_utc(item.start), plain_utc(item.end)
        all_day = bool(getattr(item, ALL_DAY_FIELD))
    if all_day and isinstance(item.start, dt.datetime):
        # Exchange stores an all-day item as the midnights of its own zone: take the dates
        # there (the mailbox zone when the item names none); busy_interval then places those
        # dates in the calendar's zone (C4).
        first = _midnight_utc(_local_date(first, item._start_timezone, mailbox_zone, ceil=False))
        last = _midnight_utc(_local_date(last, item._end_timezone, mailbox_zone, ceil=True))
    return RemoteEvent(
        remote_id=str(item.id),
        start=first,
        end=last,
        all_day=all_day,
        status=EventStatus.CANCELLED if item.is_cancelled else EventStatus.CONFIRMED,
        # NoData or a status this code does not know: busy, the safe side of C4.
        show_as=_SHOW_AS.get(str(item.legacy_free_busy_status), ShowAs.BUSY),
        response=_RESPONSE.get(str(item.my_response_type), Response.NEEDS_ACTION),
        is_private=private,
        title=None if private else (str(item.subject) if item.subject is not None else None),
    )


def _dates(item: Any) -> tuple[dt.datetime, dt.datetime, bool]:
    """An all-day item whose start and end came as dates, as UTC midnights (end exclusive).
    exchangelib makes the end inclusive when it converts (it subtracts a day); a server that
    sends dates itself sends the exclusive end. An empty span covers its first day."""
    first = _day(item.start)
    last = _day(item.end)
    if item.is_all_day and isinstance(item.end, dt.date) and not isinstance(item.end, dt.datetime):
        last += dt.timedelta(days=1)
    last = max(last, first + dt.timedelta(days=1))
    return _midnight_utc(first), _midnight_utc(last), True


def _day(value: dt.date) -> dt.date:
    return dt.date(value.year, value.month, value.day)


def _local_date(instant: dt.datetime, zone: Any, fallback: str, *, ceil: bool) -> dt.date:
    """The date of `instant` in `zone`; with `ceil`, a time after midnight counts as the next
    date (an exclusive end that is not a midnight there still covers its whole day)."""
    local = instant.astimezone(ZoneInfo(str(zone.key) if zone is not None else fallback))
    if ceil and local.time() != dt.time():
        return local.date() + dt.timedelta(days=1)
    return local.date()


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def overlaps_window(event: RemoteEvent, zone: str, start: dt.datetime, end: dt.datetime) -> bool:
    span = (
        all_day_span(event.start.date(), event.end.date(), zone)
        if event.all_day
        else Interval(event.start, event.end)
    )
    return span.start < end and span.end > start


def ews_attendees(draft: EventDraft) -> list[Any]:
    return [
        EwsAttendee(mailbox=Mailbox(email_address=a.email, name=a.name), response_type="Unknown")
        for a in draft.attendees
    ]


def notify_attendees(draft: EventDraft) -> bool:
    return draft.send_invitations and bool(draft.attendees)


def is_mailbox(calendar_id: str) -> bool:
    """Mailbox addresses contain "@"; EWS folder ids (base64) never do."""
    return "@" in calendar_id


def ews_zone(name: str) -> Any:
    try:
        return EWSTimeZone(name)
    except UnknownTimeZone:
        return EWSTimeZone("UTC")


def ews_time(value: dt.datetime, zone: Any = None) -> Any:
    """An EWSDateTime in `zone` (an EWSTimeZone; UTC when None)."""
    local = value.astimezone(zone or ZoneInfo("UTC"))
    return local if isinstance(local, EWSDateTime) else EWSDateTime.from_datetime(local)


def plain_utc(value: dt.datetime) -> dt.datetime:
    """A stdlib aware UTC datetime from exchangelib's EWSDateTime."""
    plain = dt.datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=value.tzinfo,
    )
    return plain.astimezone(dt.UTC)


def parse_version(value: str | None) -> Any:
    """An exchangelib Version from a stored API version name or build number."""
    if value is None:
        return None
    if re.fullmatch(r"\d+(\.\d+){1,3}", value):
        return Version(build=Build(*(int(part) for part in value.split("."))))
    for build, api_version, _ in reversed(VERSIONS):  # the oldest build with that API
        if api_version == value:
            return Version(build=build, api_version=api_version)
    raise ValueError(f"unknown Exchange version {value!r}")


def fingerprint(item_id: str) -> str:
    return hashlib.sha256(item_id.encode()).hexdigest()[:16]


def make_cursor(state: str, masters: set[str]) -> str:
    payload = json.dumps({"v": 1, "s": state, "m": sorted(masters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def read_cursor(token: str) -> tuple[str, set[str]]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        state, masters = payload["s"], payload["m"]
        if payload["v"] != 1 or not isinstance(state, str) or not isinstance(masters, list):
            raise ValueError("unexpected cursor")
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise CursorExpired("The Exchange sync cursor is not valid; run a full sync.") from error
    return state, {str(m) for m in masters}
