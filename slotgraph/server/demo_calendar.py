"""What the demo's calendar holds (C29): the week of a busy person, relative to today, written
to the demo's Radicale as a calendar app would (one `.ics` resource per event, over plain
CalDAV), so the tour's slots have holes a newcomer can explain.

- a weekly team sync (a series: RRULE), Mondays 10:00-11:00;
- one-off meetings in the coming two weeks;
- an all-day company offsite (`VALUE=DATE`, busy all day);
- a transparent focus block (TRANSP:TRANSPARENT: shown on the calendar, but free, C4).

Each start writes them again under the same UIDs (a plain PUT replaces a resource), so the
one-off meetings stay in the coming weeks however old the data dir is; bookings the demo
wrote are other resources and stay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
from icalendar import Event

from slotgraph.providers.caldav.wire import resource_ics
from slotgraph.providers.caldav.wire import zone_ics
from slotgraph.server.demo_radicale import DemoCalDav

TIME_ZONE = "Europe/London"
CALENDAR_NAME = "Dana Demo"
PRODID = "-//Slotgraph//demo calendar//EN"


@dataclass(frozen=True, slots=True)
class DemoEvent:
    name: str  # the resource's name and the UID's stem
    title: str
    day: int  # days after the Monday of next week (negative: this week)
    start: dt.time | None  # None: all day
    minutes: int = 0
    weekly: bool = False
    transparent: bool = False


EVENTS = (
    DemoEvent("team-sync", "Weekly team sync", -7, dt.time(10), 60, weekly=True),
    DemoEvent("northwind", "Customer call: Northwind", 1, dt.time(14), 60),
    DemoEvent("focus", "Focus time (free)", 1, dt.time(9), 180, transparent=True),
    DemoEvent("one-on-one", "1:1 with Sam", 2, dt.time(11), 30),
    DemoEvent("dentist", "Dentist", 3, dt.time(16), 60),
    DemoEvent("offsite", "Company offsite", 4, None),
    DemoEvent("planning", "Quarterly planning", 8, dt.time(13), 120),
)


def next_monday(today: dt.date) -> dt.date:
    """The Monday of next week (the README tour's `$MONDAY`)."""
    return today + dt.timedelta(days=7 - today.weekday())


def event_calendar(item: DemoEvent, monday: dt.date) -> bytes:
    """`item` as one VCALENDAR resource (with its VTIMEZONE)."""
    event = Event()
    event.add("uid", f"demo-{item.name}@slotgraph.test")
    event.add("dtstamp", dt.datetime.now(dt.UTC).replace(microsecond=0))
    event.add("summary", item.title)
    day = monday + dt.timedelta(days=item.day)
    if item.start is None:
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
    else:
        start = dt.datetime.combine(day, item.start, ZoneInfo(TIME_ZONE))
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=item.minutes))
    if item.weekly:
        event.add("rrule", {"freq": "weekly"})
    event.add("transp", "TRANSPARENT" if item.transparent else "OPAQUE")
    return resource_ics(event, PRODID)


def write_demo_calendar(server: DemoCalDav, today: dt.date) -> None:
    """Create the demo user's calendar if it is missing, then (re)write the demo events."""
    auth = httpx.BasicAuth(server.username, server.password)
    with httpx.Client(auth=auth, trust_env=False, timeout=10.0) as http:
        found = http.request("PROPFIND", server.calendar_url, headers={"Depth": "0"}, content=b"")
        if found.status_code == httpx.codes.NOT_FOUND:
            http.request(
                "MKCALENDAR", server.calendar_url, content=_mkcalendar()
            ).raise_for_status()
        else:
            found.raise_for_status()
        monday = next_monday(today)
        for item in EVENTS:
            http.put(
                f"{server.calendar_url}{item.name}.ics",
                content=event_calendar(item, monday),
                headers={"Content-Type": "text/calendar; charset=utf-8"},
            ).raise_for_status()


def _mkcalendar() -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<D:displayname>{CALENDAR_NAME}</D:displayname>"
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
        "</C:supported-calendar-component-set>"
        "<C:calendar-timezone><![CDATA["
        + zone_ics(TIME_ZONE)
        + "]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>"
    ).encode()
