"""The meeting's iCalendar object parses back to what was booked: stable UID, SEQUENCE,
organizer and attendee, and the host's zone as a VTIMEZONE (RFC 5545, C43)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from icalendar import Calendar

from slotgraph.scheduling.ical import Meeting
from slotgraph.scheduling.ical import Method
from slotgraph.scheduling.ical import Person
from slotgraph.scheduling.ical import meeting_ics

START = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)
MEETING = Meeting(
    uid="b-1@slotgraph",
    sequence=2,
    title="Intro: Cy",
    start=START,
    end=START + dt.timedelta(minutes=30),
    time_zone="Asia/Tokyo",
    organizer=Person("Ada Host", "ada@example.test"),
    attendee=Person("Cy Contact", "cy@example.test"),
    url="https://app.slotgraph.test/meetings/ada/intro",
)
NOW = dt.datetime(2030, 3, 1, tzinfo=dt.UTC)


def test_an_event_parses_back_with_its_identity_people_and_zone() -> None:
    calendar = Calendar.from_ical(meeting_ics(MEETING, Method.PUBLISH, now=NOW))
    assert calendar["method"] == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == "b-1@slotgraph"
    assert event["sequence"] == 2
    start = event.decoded("dtstart")
    assert start == START
    assert start.tzinfo is not None
    assert event["dtstart"].params["TZID"] == "Asia/Tokyo"
    assert start.astimezone(ZoneInfo("Asia/Tokyo")).hour == 18
    assert event.decoded("dtend") - start == dt.timedelta(minutes=30)
    assert str(event["organizer"]) == "mailto:ada@example.test"
    assert event["organizer"].params["CN"] == "Ada Host"
    assert str(event["attendee"]) == "mailto:cy@example.test"
    assert str(event["status"]) == "CONFIRMED"
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Asia/Tokyo"


def test_a_cancelled_meeting_is_a_cancel_of_the_same_uid_with_a_higher_sequence() -> None:
    cancelled = Meeting(**{**MEETING.__dict__, "sequence": 3, "cancelled": True})
    calendar = Calendar.from_ical(meeting_ics(cancelled, Method.REQUEST, now=NOW))
    assert calendar["method"] == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == MEETING.uid
    assert event["sequence"] == 3
    assert str(event["status"]) == "CANCELLED"
