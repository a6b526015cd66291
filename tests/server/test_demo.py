"""The README's first command: `slotgraph serve --demo` starts its own Radicale (C29), prints
the demo's booking page URL and the calendar's CalDAV URL and login; a contact books on that
page with plain HTML forms and the CONFIRMED meeting appears on the calendar when asked over
plain HTTP; the tour's API calls hide the calendar's events and write, move and add events.
SIGTERM leaves no Radicale running; after a SIGKILL the next start stops the leftover.

The demo runs without the suite's loopback allowance (C46): it allows its own server only."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psutil
import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Booking
from slotgraph.models.enums import BookingStatus
from tests.helpers.serving import SLOTGRAPH
from tests.helpers.serving import free_port
from tests.helpers.serving import wait_ready

PRINTED = re.compile(
    r"^Booking page \(.*\): (http://127\.0\.0\.1:\d+/meetings/dana-demo/\S+)$", re.M
)
CALENDAR = re.compile(
    r"^Demo calendar \(CalDAV, Radicale\): (http://127\.0\.0\.1:\d+/\S+) "
    r"\(user (\S+), password (\S+)\)$",
    re.M,
)
TOKEN = re.compile(r"^Demo user token \(new each start\): (sg_\S+)$", re.M)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
OPEN_DAY = r'<td class="open[^"]*"><a href="([^"]+)"'
SLOT = r'<li data-start="[^"]+"><a href="([^"]+)"'
LONDON = ZoneInfo("Europe/London")
WRITTEN_WITHIN = 60.0  # generous: the outbox delivers at once; a slow machine may lag


@dataclass
class Demo:
    """A running demo: what it printed, where it serves, and its calendar's login."""

    process: subprocess.Popen[bytes]
    printed: str
    base: str
    data_dir: Path

    @property
    def calendar(self) -> tuple[str, httpx.BasicAuth]:
        found = CALENDAR.search(self.printed)
        assert found, self.printed
        return found.group(1), httpx.BasicAuth(found.group(2), found.group(3))

    def radicale(self) -> psutil.Process:
        pid = int((self.data_dir / "radicale" / "radicale.pid").read_text())
        return psutil.Process(pid)


def start_demo(database_url: str, data_dir: Path, port: int) -> Demo:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_DATA_DIR": str(data_dir),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
    }
    env.pop("SLOTGRAPH_OUTBOUND_ALLOWED_NETWORKS", None)  # the demo allows its own server
    data_dir.mkdir(exist_ok=True)
    log = data_dir / "demo.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [SLOTGRAPH, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    wait_ready(process, base, log)
    printed = log.read_text().rsplit("Slotgraph demo on", 1)[-1]
    return Demo(process, printed, base, data_dir)


def stop(demo: Demo) -> None:
    """SIGTERM: the demo exits cleanly and its Radicale with it."""
    radicale = demo.radicale()
    demo.process.send_signal(signal.SIGTERM)
    code = demo.process.wait(timeout=30)
    assert code == 0, (demo.data_dir / "demo.log").read_text()[-2000:]
    assert not running(radicale)
    assert not (demo.data_dir / "radicale" / "radicale.pid").exists()


def running(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def demo(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[Demo]:
    """`slotgraph serve --demo` (with its worker) on the test database, migrated by `engine`."""
    started = start_demo(database_url, tmp_path / "data", free_port())
    try:
        yield started
    finally:
        if started.process.poll() is None:
            stop(started)


def events(demo: Demo) -> dict[str, tuple[dt.datetime | dt.date, dt.datetime | dt.date]]:
    """The calendar's events by title (start, end), read as any CalDAV client can: a GET of
    the collection, with the printed login."""
    url, auth = demo.calendar
    answer = httpx.get(url, auth=auth, trust_env=False)
    answer.raise_for_status()
    return {
        str(event["SUMMARY"]): (event.decoded("DTSTART"), event.decoded("DTEND"))
        for event in Calendar.from_ical(answer.text).walk("VEVENT")
    }


def wait_for_event(demo: Demo, title: str, start: dt.datetime | None = None) -> dt.datetime:
    """The start of the event titled `title` once it is on the calendar (at `start`)."""
    deadline = time.monotonic() + WRITTEN_WITHIN
    while time.monotonic() < deadline:
        found = events(demo).get(title)
        if (
            found is not None
            and isinstance(found[0], dt.datetime)
            and (start is None or found[0] == start)
        ):
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"{title!r} at {start} is not on the calendar: {events(demo)}")


async def test_the_printed_booking_page_books_a_meeting_on_the_demo_calendar(
    demo: Demo, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    printed = PRINTED.search(demo.printed)
    assert printed, demo.printed
    assert "Weekly team sync" in events(demo)  # the demo calendar holds its events
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as http:
        month = await http.get(printed.group(1))
        assert month.status_code == 200
        assert "Intro call" in month.text
        day = await http.get(month.url.join(first_href(month.text, OPEN_DAY)))
        form = await http.get(day.url.join(first_href(day.text, SLOT)))
        post = form.text[form.text.index('<form method="post"') :].split("</form>")[0]
        fields = {name: html.unescape(value) for name, value in HIDDEN.findall(post)}
        done = await http.post(
            form.url, data={**fields, "name": "Cleo", "email": "cleo@example.com"}
        )

    assert done.status_code == 200, done.text
    assert "You are booked" in done.text  # on a calendar now, not a request (S7)
    async with sessionmaker() as session:
        (booking,) = (await session.execute(select(Booking))).scalars()
    assert booking.status is BookingStatus.CONFIRMED
    assert wait_for_event(demo, "Intro call: Cleo") == booking.starts_at


async def test_the_api_tour_hides_events_and_writes_moves_and_adds_meetings(demo: Demo) -> None:
    match = TOKEN.search(demo.printed)
    assert match, demo.printed
    headers = {"Authorization": f"Bearer {match.group(1)}"}
    monday = next_monday()
    async with httpx.AsyncClient(base_url=demo.base, trust_env=False) as http:

        async def gql(query: str, token: bool = False, **variables: object) -> dict[str, object]:
            answer = await http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=headers if token else {},
            )
            data: dict[str, object] = answer.json()["data"]
            return data

        slots = await gql(SLOTS, s=at(monday, 0).isoformat(), e=at(monday, 23).isoformat())
        starts = {
            dt.datetime.fromisoformat(s["start"])
            for day in slots["availableSlots"]["days"]  # type: ignore[index]
            for s in day["slots"]
        }
        # The weekly team sync (Mondays 10:00-11:00 London) hides its hour, nothing else.
        assert at(monday, 9, 45) in starts
        assert at(monday, 11) in starts
        assert not {s for s in starts if at(monday, 10) <= s < at(monday, 11)}

        booked = await gql(BOOK, i={**BOOKING, "start": at(monday, 13).isoformat()})
        assert booked["bookMeeting"]["booking"]["status"] == "CONFIRMED", booked  # type: ignore[index]
        assert wait_for_event(demo, "Intro call: Cleo") == at(monday, 13)

        viewer = await gql(BOOKINGS, token=True)
        (edge,) = viewer["viewer"]["bookings"]["edges"]  # type: ignore[index]
        moved = await gql(
            RESCHEDULE,
            token=True,
            i={"bookingId": edge["node"]["id"], "start": at(monday, 14).isoformat()},
        )
        assert moved["rescheduleBooking"]["__typename"] == "RescheduleBookingSuccess", moved  # type: ignore[index]
        wait_for_event(demo, "Intro call: Cleo", at(monday, 14))

        meeting = await gql(
            CREATE_MEETING,
            token=True,
            i={
                "contactId": edge["node"]["contact"]["id"],
                "start": at(monday, 15, 30).isoformat(),
                "end": at(monday, 16).isoformat(),
                "title": "Follow-up with Cleo",
            },
        )
        assert meeting["createMeeting"]["notSyncedReason"] is None, meeting  # type: ignore[index]
        wait_for_event(demo, "Follow-up with Cleo", at(monday, 15, 30))
    assert len([t for t in events(demo) if "Cleo" in t]) == 2  # moved, not doubled


def test_a_killed_demos_radicale_is_stopped_by_the_next_start(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    first = start_demo(database_url, tmp_path / "data", free_port())
    leftover = first.radicale()
    first.process.kill()  # SIGKILL: no exit handler runs
    first.process.wait(timeout=30)
    assert running(leftover)  # what a crash leaves

    second = start_demo(database_url, tmp_path / "data", free_port())
    try:
        assert not running(leftover)
        assert second.radicale().pid != leftover.pid
        assert "Weekly team sync" in events(second)  # its calendar works again
    finally:
        stop(second)


def first_href(page: str, pattern: str) -> str:
    found = re.search(pattern, page)
    assert found, page
    return html.unescape(found.group(1))


def next_monday() -> dt.date:
    today = dt.datetime.now(LONDON).date()
    return today + dt.timedelta(days=7 - today.weekday())


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON).astimezone(dt.UTC)


BOOKING = {
    "pageSlug": "dana-demo/intro",
    "timeZone": "Europe/London",
    "contact": {"name": "Cleo", "email": "cleo@example.com"},
}
SLOTS = """query($s: DateTime!, $e: DateTime!) { availableSlots(pageSlug: "dana-demo/intro",
  start: $s, end: $e, timeZone: "UTC") { ... on AvailableSlots { days { slots { start } } } } }"""
BOOK = """mutation($i: BookMeetingInput!) { bookMeeting(input: $i) { __typename
  ... on BookMeetingSuccess { booking { id status } } ... on Error { message } } }"""
BOOKINGS = "{ viewer { bookings(first: 1) { edges { node { id contact { id } } } } } }"
RESCHEDULE = """mutation($i: RescheduleBookingInput!) { rescheduleBooking(input: $i) {
  __typename ... on Error { message } } }"""
CREATE_MEETING = """mutation($i: CreateMeetingInput!) { createMeeting(input: $i) { __typename
  ... on CreateMeetingSuccess { notSyncedReason } ... on Error { message } } }"""
