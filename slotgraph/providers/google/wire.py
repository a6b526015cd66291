"""Calendar API v3 resources ↔ the frozen value types of `slotgraph.providers.base`.

Each event is mapped to the neutral `RemoteEvent` so that `slotgraph.providers.busy` applies
the same C4 rules as for the other providers: `transparency: transparent` and
working-location events are free, out-of-office events busy, the owner's own
`responseStatus` gives the response; private and confidential events carry no title.
Idempotent creates: the event id is derived from `EventDraft.idempotency_key` (Google lets
the client choose ids in base32hex), and the key itself is stored in a private extended
property (`KEY_PROPERTY`), so an event found by id or by that property is adopted only when
it carries the key (`carries_key`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any
from typing import Final
from urllib.parse import quote

from slotgraph.providers.base import Access
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventStatus
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Response
from slotgraph.providers.base import ShowAs

# The private extended property holding Slotgraph's idempotency key (invisible to attendees).
KEY_PROPERTY: Final = "slotgraphIdempotencyKey"

_ACCESS: Final = {
    "owner": Access.OWNER,
    "writer": Access.WRITER,
    "reader": Access.READER,
    "freeBusyReader": Access.FREE_BUSY_READER,
}
_RESPONSES: Final = {
    "accepted": Response.ACCEPTED,
    "tentative": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "needsAction": Response.NEEDS_ACTION,
}


def event_id_for(idempotency_key: str) -> str:
    """A Google event id for a key: base32hex (0-9, a-v), as Google requires of client ids."""
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    standard = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    encoded = base64.b32encode(digest).decode().rstrip("=")
    return encoded.translate(str.maketrans(standard, alphabet))


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_instant(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _event_time(value: Mapping[str, Any]) -> tuple[dt.datetime, bool]:
    if "date" in value:
        day = dt.date.fromisoformat(str(value["date"]))
        return dt.datetime.combine(day, dt.time(), dt.UTC), True
    return parse_instant(str(value["dateTime"])), False


def remote_event(item: Mapping[str, Any]) -> RemoteEvent:
    """A Calendar API `Event` resource as the neutral `RemoteEvent` (C4 inputs)."""
    start, all_day = _event_time(item["start"])
    end, _ = _event_time(item["end"])
    response = Response.ORGANIZER
    for attendee in item.get("attendees") or ():
        if attendee.get("self") and not attendee.get("organizer"):
            response = _RESPONSES.get(str(attendee.get("responseStatus")), Response.NEEDS_ACTION)
    event_type = item.get("eventType", "default")
    if item.get("transparency") == "transparent":
        show_as = ShowAs.WORKING_ELSEWHERE if event_type == "workingLocation" else ShowAs.FREE
    elif event_type == "workingLocation":
        show_as = ShowAs.WORKING_ELSEWHERE
    elif event_type == "outOfOffice":
        show_as = ShowAs.OUT_OF_OFFICE
    elif response is Response.TENTATIVE:
        show_as = ShowAs.TENTATIVE
    else:
        show_as = ShowAs.BUSY
    status = {
        "cancelled": EventStatus.CANCELLED,
        "tentative": EventStatus.TENTATIVE,
    }.get(str(item.get("status")), EventStatus.CONFIRMED)
    private = item.get("visibility") in {"private", "confidential"}
    return RemoteEvent(
        remote_id=str(item["id"]),
        start=start,
        end=end,
        all_day=all_day,
        status=status,
        show_as=show_as,
        response=response,
        is_private=private,
        title=None if private else item.get("summary"),
    )


def calendar_info(item: Mapping[str, Any]) -> RemoteCalendarInfo:
    """A `calendarList` entry; free/busy-only calendars lack "See all event details" (S12)."""
    access = _ACCESS.get(str(item.get("accessRole")), Access.FREE_BUSY_READER)
    return RemoteCalendarInfo(
        remote_id=str(item["id"]),
        name=str(item.get("summaryOverride") or item.get("summary") or item["id"]),
        time_zone=str(item.get("timeZone") or "UTC"),
        access=access,
        is_primary=bool(item.get("primary")),
        can_see_all_details=access is not Access.FREE_BUSY_READER,
    )


def overlaps(event: RemoteEvent, start: dt.datetime, end: dt.datetime) -> bool:
    # All-day events carry UTC midnights; a day of slack keeps those in any zone.
    slack = dt.timedelta(days=1) if event.all_day else dt.timedelta()
    return event.end + slack > start and event.start - slack < end


def segment(value: str) -> str:
    """Calendar and event ids as one path segment (ids hold '@' and '#')."""
    return quote(value, safe="")


def event_body(draft: EventDraft) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": draft.title,
        "description": draft.description,
        "start": {"dateTime": draft.start.isoformat(), "timeZone": draft.time_zone},
        "end": {"dateTime": draft.end.isoformat(), "timeZone": draft.time_zone},
        "attendees": [
            {"email": attendee.email, **({"displayName": attendee.name} if attendee.name else {})}
            for attendee in draft.attendees
        ],
    }
    if draft.location:
        body["location"] = draft.location
    if draft.transparent:
        body["transparency"] = "transparent"
    if draft.idempotency_key:
        body["extendedProperties"] = {"private": {KEY_PROPERTY: draft.idempotency_key}}
    return body


def carries_key(resource: Mapping[str, Any], key: str) -> bool:
    """Whether a found event is the one written with `key`: it carries the key in its
    private extended property and is not deleted (Google keeps deleted events' ids)."""
    private = (resource.get("extendedProperties") or {}).get("private") or {}
    return private.get(KEY_PROPERTY) == key and resource.get("status") != "cancelled"
