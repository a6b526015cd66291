"""Graph JSON ↔ the frozen value types of `slotgraph.providers.base`.

Times. Every request asks `Prefer: outlook.timezone="UTC"`. All-day events carry midnights in
some zone: a midnight is taken as its date; an instant that is not a midnight is read in the
event's own zone (`originalStartTimeZone`, Windows or IANA name; else the mailbox zone).
Writes carry the draft's times in its own zone under its Windows name. Graph invites every
attendee of an event it creates or changes and offers no switch: `send_invitations=False`
writes the event without attendees.

Identifiers. The mailbox's default calendar has the mailbox address as its remote id (what
getSchedule takes, stable across Graph's id re-encodings); every other calendar keeps its
Graph id (base64, never containing "@"). Access: the account's own calendars are OWNER,
shared ones WRITER with `canEdit`, else READER.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from typing import Final
from urllib.parse import quote
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP
from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from slotgraph.providers.base import Access
from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventStatus
from slotgraph.providers.base import RemoteCalendarInfo
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Response
from slotgraph.providers.base import ShowAs

_FRACTION = re.compile(r"(\.\d{6})\d+")
SHOW_AS: Final = {
    "free": ShowAs.FREE,
    "tentative": ShowAs.TENTATIVE,
    "busy": ShowAs.BUSY,
    "oof": ShowAs.OUT_OF_OFFICE,
    "workingElsewhere": ShowAs.WORKING_ELSEWHERE,
    # `unknown`, or anything newer: busy, the safe side of C4.
}
_RESPONSE: Final = {
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "notResponded": Response.NEEDS_ACTION,
}


def to_event(item: Mapping[str, Any], mailbox_zone: str) -> RemoteEvent:
    private = str(item.get("sensitivity") or "").lower() in ("private", "confidential")
    response = str((item.get("responseStatus") or {}).get("response") or "none")
    all_day = bool(item.get("isAllDay"))
    if all_day:
        own_zone = zone_name(str(item.get("originalStartTimeZone") or "")) or mailbox_zone
        start = _midnight_utc(_all_day_date(item["start"], own_zone, ceil=False))
        end = _midnight_utc(_all_day_date(item["end"], own_zone, ceil=True))
    else:
        start, end = instant(item["start"]), instant(item["end"])
    subject = item.get("subject")
    return RemoteEvent(
        remote_id=str(item["id"]),
        start=start,
        end=end,
        all_day=all_day,
        status=EventStatus.CANCELLED if item.get("isCancelled") else EventStatus.CONFIRMED,
        show_as=SHOW_AS.get(str(item.get("showAs")), ShowAs.BUSY),
        # "none": no answer recorded; the organizer's own items say "organizer".
        response=_RESPONSE.get(
            response, Response.ORGANIZER if item.get("isOrganizer") else Response.NEEDS_ACTION
        ),
        is_private=private,
        title=None if private or subject is None else str(subject),
    )


def calendar_info(
    item: Mapping[str, Any], mailbox: str, zone: str, *, default: bool | None = None
) -> RemoteCalendarInfo:
    """A `calendar` resource of `mailbox`'s calendar list (see the module docstring);
    `default` overrides the item's optional `isDefaultCalendar` (see `default_calendar_id`)."""
    if default is None:
        default = bool(item.get("isDefaultCalendar"))
    owner = str((item.get("owner") or {}).get("address") or "").lower()
    own = default or owner == mailbox.lower()
    access = Access.OWNER if own else Access.WRITER if item.get("canEdit") else Access.READER
    return RemoteCalendarInfo(
        remote_id=mailbox if default else str(item["id"]),
        name=str(item.get("name") or "Calendar"),
        time_zone=zone,
        access=access,
        is_primary=default,
    )


def carries_key(item: Mapping[str, Any], property_id: str, key: str) -> bool:
    """Whether a found event was written with `key`: its expanded single-value extended
    property (ids compare without case, as Graph normalises them) or its transactionId."""
    for prop in item.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == property_id.lower() and prop.get("value") == key:
            return True
    return item.get("transactionId") == key[:255]


def zone_name(name: str) -> str | None:
    """An IANA zone for a Graph zone name (IANA or Windows), if known."""
    if not name:
        return None
    candidate = name if "/" in name or name == "UTC" else MS_TIMEZONE_TO_IANA_MAP.get(name)
    if not candidate:
        return None
    try:
        ZoneInfo(str(candidate))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return str(candidate)


def _local(value: Mapping[str, Any]) -> tuple[dt.datetime, ZoneInfo]:
    """A Graph dateTimeTimeZone as a naive local time and its zone (UTC when unknown)."""
    text = _FRACTION.sub(r"\1", str(value["dateTime"]))
    naive = dt.datetime.fromisoformat(text).replace(tzinfo=None)
    zone = zone_name(str(value.get("timeZone") or "UTC")) or "UTC"
    return naive, ZoneInfo(zone)


def instant(value: Mapping[str, Any]) -> dt.datetime:
    naive, zone = _local(value)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def _all_day_date(value: Mapping[str, Any], own_zone: str, *, ceil: bool) -> dt.date:
    """The date an all-day boundary stands for: a midnight is its date; another instant is
    read in the event's own zone, a time after midnight counting as the next date (ceil)."""
    naive, zone = _local(value)
    if naive.time() == dt.time():
        return naive.date()
    local = naive.replace(tzinfo=zone).astimezone(ZoneInfo(own_zone))
    if ceil and local.time() != dt.time():
        return local.date() + dt.timedelta(days=1)
    return local.date()


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def iso_z(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_utc(value: dt.datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _graph_time(value: dt.datetime, zone: str) -> dict[str, str]:
    """The draft's time in its own zone under its Windows name (what Outlook shows the
    organizer); UTC when the zone has no Windows name."""
    windows_name = IANA_TO_MS_TIMEZONE_MAP.get(zone)
    if windows_name is None:
        return graph_utc(value)
    local = value.astimezone(ZoneInfo(zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": str(windows_name[0])}


def event_body(draft: EventDraft) -> dict[str, Any]:
    attendees = [
        {"emailAddress": {"address": a.email, "name": a.name or a.email}, "type": "required"}
        for a in draft.attendees
    ]
    return {
        "subject": draft.title,
        "body": {"contentType": "text", "content": draft.description},
        "start": _graph_time(draft.start, draft.time_zone),
        "end": _graph_time(draft.end, draft.time_zone),
        "isAllDay": False,
        "showAs": "free" if draft.transparent else "busy",
        "location": {"displayName": draft.location or ""},
        "attendees": attendees if draft.send_invitations else [],
    }


def parse_z(value: str) -> dt.datetime:
    """Graph's `expirationDateTime` (ISO 8601 with `Z` or an offset, up to 7 fraction digits)."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).astimezone(dt.UTC)


def is_mailbox(calendar_id: str) -> bool:
    """Mailbox addresses contain "@"; Graph calendar ids never do."""
    return "@" in calendar_id


def segment(value: str) -> str:
    return quote(value, safe="=-_.~@")
