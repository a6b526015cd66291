"""iCalendar on a CalDAV server ↔ our value types.

Reading. A calendar resource holds one event, or a recurring series (a master with RRULE,
RDATE, EXDATE and overrides sharing its UID, each with a RECURRENCE-ID). Recurrences are
expanded here with `recurring-ical-events` over the window asked, never by the server
(servers' `expand` differs). Each occurrence becomes a `RemoteEvent` whose id is the
resource path, plus `#` and the occurrence's RECURRENCE-ID in UTC for a series. Times with
a TZID are read in that zone (the resource's VTIMEZONE, or the zone database for a known
TZID), floating times in the calendar's zone; `VALUE=DATE` events are all-day, placed in
the calendar's zone by `busy.busy_interval` (C4). C4's inputs: TRANSP (TRANSPARENT: free),
STATUS, Outlook's X-MICROSOFT-CDO-BUSYSTATUS (out of office, working elsewhere), CLASS
(private or confidential: no title), and the user's own PARTSTAT, found by their addresses.

Writing. `draft_ics` writes one VEVENT with the draft's stable UID, times in the draft's
zone with its VTIMEZONE, and SCHEDULE-AGENT=CLIENT on the organizer and every attendee
(C44): the server sends no invitation of its own, ours is the one (C43).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Final
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar
from icalendar import Event
from icalendar import vCalAddress
from icalendar import vText

from slotgraph.providers.base import EventDraft
from slotgraph.providers.base import EventStatus
from slotgraph.providers.base import Interval
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Response
from slotgraph.providers.base import ShowAs
from slotgraph.scheduling.ical import add_times_and_text
from slotgraph.scheduling.ical import calendar_of

PRODID: Final = "-//Slotgraph//CalDAV//EN"
_STATUS: Final = {
    "CANCELLED": EventStatus.CANCELLED,
    "TENTATIVE": EventStatus.TENTATIVE,
}
_PARTSTAT: Final = {
    "ACCEPTED": Response.ACCEPTED,
    "DECLINED": Response.DECLINED,
    "TENTATIVE": Response.TENTATIVE,
    "NEEDS-ACTION": Response.NEEDS_ACTION,
    "DELEGATED": Response.DECLINED,  # handed to someone else: not the user's time
}
_BUSY_STATUS: Final = {
    "FREE": ShowAs.FREE,
    "TENTATIVE": ShowAs.TENTATIVE,
    "OOF": ShowAs.OUT_OF_OFFICE,
    "WORKINGELSEWHERE": ShowAs.WORKING_ELSEWHERE,
}


def uid_for(key: str) -> str:
    """The stable UID of a write keyed by `key` (the booking's idempotency key): the same
    key always writes the same resource, so a retried create lands once."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"slotgraph-{digest}"


def parse(data: str) -> Calendar:
    """A calendar object; raises ValueError on text that is not one."""
    calendar = Calendar.from_ical(data)
    if not isinstance(calendar, Calendar):
        raise ValueError("not a VCALENDAR")
    return calendar


def resource_uid(calendar: Calendar) -> str | None:
    for component in calendar.walk("VEVENT"):
        uid = component.get("UID")
        if uid:
            return str(uid)
    return None


def is_series(calendar: Calendar) -> bool:
    events = calendar.walk("VEVENT")
    return len(events) > 1 or any("RRULE" in e or "RDATE" in e for e in events)


@dataclass(frozen=True, slots=True)
class Reader:
    """Reads resources of one calendar: its zone (all-day and floating times) and the
    user's addresses (their PARTSTAT)."""

    time_zone: str
    addresses: frozenset[str]

    def occurrences(self, href: str, data: str, window: Interval) -> list[RemoteEvent]:
        """The resource's events overlapping `window`, series expanded. Raises on a
        resource we cannot read (the caller skips it: `unreadable`)."""
        calendar = parse(data)
        events = calendar.walk("VEVENT")
        if not events:
            return []
        for event in events:  # a time no one can tell: the item is skipped, not guessed
            if "DTSTART" not in event:
                raise ValueError("VEVENT without DTSTART")
            if "DTEND" in event and _sortable(event.decoded("DTEND"), self.time_zone) < (
                _sortable(event.decoded("DTSTART"), self.time_zone)
            ):
                raise ValueError("VEVENT ends before it starts")
        series = is_series(calendar)
        zone = ZoneInfo(self.time_zone)
        found = recurring_ical_events.of(calendar).between(
            window.start.astimezone(zone).replace(tzinfo=None)
            if _all_floating(events)
            else window.start,
            window.end.astimezone(zone).replace(tzinfo=None)
            if _all_floating(events)
            else window.end,
        )
        return [self.event(href, occurrence, series=series) for occurrence in found]

    def event(self, href: str, event: Any, *, series: bool) -> RemoteEvent:
        start_value = event.decoded("DTSTART")
        all_day = not isinstance(start_value, dt.datetime)
        start = self._moment(start_value)
        end = self._end(event, start_value, start)
        remote_id = href
        if series:
            recurrence = event.get("RECURRENCE-ID")
            original = self._moment(recurrence.dt) if recurrence is not None else start
            remote_id = f"{href}#{original.strftime('%Y%m%dT%H%M%SZ')}"
        private = str(event.get("CLASS", "PUBLIC")).upper() in ("PRIVATE", "CONFIDENTIAL")
        return RemoteEvent(
            remote_id=remote_id,
            start=start,
            end=end,
            all_day=all_day,
            status=_STATUS.get(str(event.get("STATUS", "")).upper(), EventStatus.CONFIRMED),
            show_as=self._show_as(event),
            response=self._response(event),
            is_private=private,
            title=None if private else str(event.get("SUMMARY", "")) or None,
        )

    def _moment(self, value: dt.date | dt.datetime) -> dt.datetime:
        """UTC; a date is its UTC midnight (RemoteEvent's all-day convention), a floating
        time is read in the calendar's zone."""
        if not isinstance(value, dt.datetime):
            return dt.datetime.combine(value, dt.time(), dt.UTC)
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(self.time_zone))
        return value.astimezone(dt.UTC)

    def _end(self, event: Any, start_value: dt.date, start: dt.datetime) -> dt.datetime:
        if "DTEND" in event:
            return self._moment(event.decoded("DTEND"))
        if "DURATION" in event:
            duration: dt.timedelta = event.decoded("DURATION")
            return start + duration
        if isinstance(start_value, dt.datetime):
            return start  # RFC 5545 3.6.1: a timed event without end takes no time
        return start + dt.timedelta(days=1)

    def _show_as(self, event: Any) -> ShowAs:
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            return ShowAs.FREE
        busy = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
        if busy in _BUSY_STATUS:
            return _BUSY_STATUS[busy]
        if str(event.get("STATUS", "")).upper() == "TENTATIVE":
            return ShowAs.TENTATIVE
        return ShowAs.BUSY

    def _response(self, event: Any) -> Response:
        """The user's own answer: ORGANIZER when they organize it or nobody is invited."""
        organizer = _address(event.get("ORGANIZER"))
        if organizer is None or organizer in self.addresses:
            return Response.ORGANIZER
        for attendee in _list(event.get("ATTENDEE")):
            if _address(attendee) in self.addresses:
                partstat = str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
                return _PARTSTAT.get(partstat, Response.NEEDS_ACTION)
        return Response.ORGANIZER  # on the user's calendar, organized elsewhere, user unlisted


def _sortable(value: dt.date, time_zone: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), ZoneInfo(time_zone))
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(time_zone))


def _all_floating(events: Sequence[Any]) -> bool:
    return all(
        isinstance(v := e.decoded("DTSTART"), dt.datetime) and v.tzinfo is None for e in events
    )


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _address(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[7:].lower() if text.lower().startswith("mailto:") else text.lower()


def _person(email: str, name: str | None, *, attendee: bool) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    address.params["SCHEDULE-AGENT"] = vText("CLIENT")  # C44: the server sends nothing
    if attendee:
        address.params["ROLE"] = vText("REQ-PARTICIPANT")
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE")
    return address


def draft_ics(
    draft: EventDraft,
    uid: str,
    *,
    organizer: str,
    sequence: int,
    now: dt.datetime,
) -> bytes:
    """The resource we PUT for `draft` (see the module docstring)."""
    zone = ZoneInfo(draft.time_zone)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("sequence", sequence)
    add_times_and_text(event, draft.start, draft.end, zone, draft.title, draft.description)
    if draft.location:
        event.add("location", draft.location)
    event.add("transp", "TRANSPARENT" if draft.transparent else "OPAQUE")
    if draft.attendees:
        event.add("organizer", _person(organizer, None, attendee=False))
        for attendee in draft.attendees:
            event.add("attendee", _person(attendee.email, attendee.name, attendee=True))
    return resource_ics(event, PRODID)


def resource_ics(event: Event, prodid: str) -> bytes:
    """One calendar resource holding `event` and the VTIMEZONEs its times name (a PUT's body)."""
    ics: bytes = calendar_of(event, prodid).to_ical()
    return ics


def sequence_of(data: str) -> int:
    """The SEQUENCE of a stored resource (0 when absent or unreadable)."""
    try:
        for event in parse(data).walk("VEVENT"):
            return int(event.get("SEQUENCE", 0))
    except (ValueError, TypeError):
        return 0
    return 0


def zone_of(calendar_timezone: str | None, zone_id: str | None, fallback: str) -> str:
    """A calendar's IANA zone: RFC 7809's `calendar-timezone-id`, else the TZID of its
    `calendar-timezone` VTIMEZONE, else `fallback`; names the zone database lacks are
    skipped."""
    candidates: list[str] = [zone_id] if zone_id else []
    if calendar_timezone:
        with contextlib.suppress(ValueError):
            candidates.extend(
                str(tz.get("TZID")) for tz in parse(calendar_timezone).walk("VTIMEZONE")
            )
    for name in candidates:
        try:
            ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            continue
        return name
    return fallback


def zone_ics(time_zone: str) -> str:
    """A VCALENDAR holding the VTIMEZONE of `time_zone` (for MKCALENDAR)."""
    event = Event()
    event.add("uid", "zone")
    event.add("dtstamp", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    event.add("dtstart", dt.datetime(2000, 1, 1, tzinfo=ZoneInfo(time_zone)))
    calendar = calendar_of(event, PRODID)
    only = Calendar()
    only.add("prodid", PRODID)
    only.add("version", "2.0")
    for component in calendar.walk("VTIMEZONE"):
        only.add_component(component)
    text: str = only.to_ical().decode()
    return text


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
