"""iCalendar (RFC 5545) for a booked meeting, written once for every sender: the page's "add
to calendar" download, and the invitations of emails and CalDAV (C43).

One VEVENT per booking with the booking's stable UID and its SEQUENCE (bumped on every
reschedule and cancellation, so a calendar replaces what it holds), the host as ORGANIZER,
the contact as ATTENDEE, and times in the host's zone with that zone's VTIMEZONE, so a
client without a zone database still shows the right local time. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Slotgraph//Scheduling pages//EN"


class Method(StrEnum):
    """What the calendar object asks of its receiver (RFC 5546)."""

    PUBLISH = "PUBLISH"  # a download: just the event
    REQUEST = "REQUEST"  # an invitation to answer
    CANCEL = "CANCEL"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Meeting:
    uid: str
    sequence: int
    title: str
    start: dt.datetime
    end: dt.datetime
    time_zone: str  # the host's: the event's local times and its VTIMEZONE
    organizer: Person
    attendee: Person
    description: str = ""
    url: str | None = None
    cancelled: bool = False
    tentative: bool = False  # an offline request the host has not confirmed (S7)


def _address(person: Person, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    if role is not None:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE")
    return address


def meeting_ics(meeting: Meeting, method: Method, *, now: dt.datetime) -> bytes:
    """The calendar object of `meeting` (`now` is its DTSTAMP)."""
    zone = ZoneInfo(meeting.time_zone)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", meeting.start.astimezone(zone))
    event.add("dtend", meeting.end.astimezone(zone))
    event.add("summary", meeting.title)
    if meeting.description:
        event.add("description", meeting.description)
    if meeting.url:
        event.add("url", meeting.url)
    status = "CANCELLED" if meeting.cancelled else "TENTATIVE" if meeting.tentative else "CONFIRMED"
    event.add("status", status)
    event.add("organizer", _address(meeting.organizer, None))
    event.add("attendee", _address(meeting.attendee, "REQ-PARTICIPANT"))
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", Method.CANCEL.value if meeting.cancelled else method.value)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    ics: bytes = calendar.to_ical()
    return ics
