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

from icalendar import Calendar
from icalendar import Event
from icalendar import vCalAddress
from icalendar import vText

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


def add_times_and_text(
    event: Event,
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    title: str,
    description: str | None,
) -> None:
    """DTSTART and DTEND in `zone`, SUMMARY, and DESCRIPTION when there is one: the part of
    a VEVENT that our invitations and the events we PUT on CalDAV calendars write alike."""
    event.add("dtstart", start.astimezone(zone))
    event.add("dtend", end.astimezone(zone))
    event.add("summary", title)
    if description:
        event.add("description", description)


def calendar_of(event: Event, prodid: str, *, method: str | None = None) -> Calendar:
    """A VCALENDAR holding `event` and the VTIMEZONEs its times name (an iTIP `method` for
    an invitation; none for a calendar resource)."""
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    if method is not None:
        calendar.add("method", method)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar


def meeting_ics(meeting: Meeting, method: Method, *, now: dt.datetime) -> bytes:
    """The calendar object of `meeting` (`now` is its DTSTAMP)."""
    zone = ZoneInfo(meeting.time_zone)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", now.astimezone(dt.UTC))
    add_times_and_text(event, meeting.start, meeting.end, zone, meeting.title, meeting.description)
    if meeting.url:
        event.add("url", meeting.url)
    status = "CANCELLED" if meeting.cancelled else "TENTATIVE" if meeting.tentative else "CONFIRMED"
    event.add("status", status)
    event.add("organizer", _address(meeting.organizer, None))
    event.add("attendee", _address(meeting.attendee, "REQ-PARTICIPANT"))
    sent_as = Method.CANCEL if meeting.cancelled else method
    ics: bytes = calendar_of(event, PRODID, method=sent_as.value).to_ical()
    return ics
