"""A calendar app's writes to a real CalDAV server (what a user's phone would put there),
the `CalendarClient` contract harness over it, and building the adapter's client for a test
account. Requests of the calendar app go to the server directly, not through the proxy, so
the proxy counts only the adapter's requests."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import ClassVar
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar
from icalendar import Event
from icalendar import vCalAddress

from slotgraph.providers.base import CalendarClient
from slotgraph.providers.caldav import CalDavCalendarClient
from slotgraph.providers.caldav import uid_for
from slotgraph.providers.caldav.wire import zone_ics
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust
from slotgraph.providers.retry import FAST
from tests.fakes.scenario import EVENTS
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.caldav_servers import PASSWORD
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.harnesses import SQUATTER
from tests.helpers.harnesses import Operation

EMAIL = "host@example.test"
_accounts = itertools.count(1)
_SHOW_AS = {
    "TENTATIVE": "TENTATIVE",
    "OUT_OF_OFFICE": "OOF",
    "WORKING_ELSEWHERE": "WORKINGELSEWHERE",
}


def _person(email: str, partstat: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if partstat:
        address.params["PARTSTAT"] = partstat
    return address


def app_event(item: ScriptedEvent, uid: str, *, zone: str = "UTC") -> Event:
    """`item` as a calendar app writes it; timed events in `zone`."""
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    if isinstance(item.start, dt.datetime):
        assert isinstance(item.end, dt.datetime)
        event.add("dtstart", item.start.astimezone(ZoneInfo(zone)))
        event.add("dtend", item.end.astimezone(ZoneInfo(zone)))
    else:
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
    event.add("summary", item.title)
    if item.show_as == "FREE":
        event.add("transp", "TRANSPARENT")
    elif item.show_as in _SHOW_AS:
        event.add("x-microsoft-cdo-busystatus", _SHOW_AS[item.show_as])
    if item.response != "ORGANIZER":
        event.add("organizer", _person("boss@other.test"))
        event.add("attendee", _person(EMAIL, item.response.replace("_", "-")))
    if item.cancelled:
        event.add("status", "CANCELLED")
    if item.private:
        event.add("class", "PRIVATE")
    return event


def calendar_of(*events: Event) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Tests//Calendar app//EN")
    calendar.add("version", "2.0")
    for event in events:
        calendar.add_component(event)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data


def series_calendar(items: list[ScriptedEvent], uid: str) -> bytes:
    """Instances of one series as a master (daily RRULE from the first) and overrides
    (RECURRENCE-ID) for the cancelled ones."""
    first = items[0]
    master = app_event(first, uid)
    master.add("rrule", {"freq": "daily", "count": len(items)})
    overrides = []
    for item in items:
        if item.cancelled:
            override = app_event(item, uid)
            override.add("recurrence-id", item.start)
            overrides.append(override)
    return calendar_of(master, *overrides)


@dataclass
class CalendarApp:
    """Writes to one account's calendar on the server, as a calendar app does."""

    http: httpx.Client
    calendar_url: str
    ids: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, body: bytes) -> str:
        url = f"{self.calendar_url}{name}.ics"
        response = self.http.put(url, content=body, headers={"Content-Type": "text/calendar"})
        response.raise_for_status()
        return httpx.URL(url).path

    def add(self, item: ScriptedEvent, *, zone: str = "UTC") -> str:
        uid = f"{item.id}-{uuid.uuid4().hex[:8]}"
        href = self.put(uid, calendar_of(app_event(item, uid, zone=zone)))
        self.ids[item.id] = href
        return href

    def add_scenario(self) -> None:
        series: dict[str, list[ScriptedEvent]] = {}
        for item in EVENTS:
            if item.series_id:
                series.setdefault(item.series_id, []).append(item)
            else:
                self.add(item)
        for series_id, items in series.items():
            href = self.put(series_id, series_calendar(items, series_id))
            for item in items:
                assert isinstance(item.start, dt.datetime)
                self.ids[item.id] = f"{href}#{item.start.strftime('%Y%m%dT%H%M%SZ')}"

    def move(self, href: str, start: dt.datetime, end: dt.datetime) -> None:
        url = httpx.URL(self.calendar_url).join(href)
        calendar = Calendar.from_ical(self.http.get(url).text)
        for event in calendar.walk("VEVENT"):
            del event["DTSTART"]
            del event["DTEND"]
            event.add("dtstart", start)
            event.add("dtend", end)
        self.http.put(
            url, content=calendar.to_ical(), headers={"Content-Type": "text/calendar"}
        ).raise_for_status()

    def remove(self, href: str) -> None:
        self.http.delete(httpx.URL(self.calendar_url).join(href)).raise_for_status()


def new_account(server: Server, http: httpx.Client, n: int, *, name: str = "Work") -> str:
    """Account `n`'s calendar home with one calendar in TIME_ZONE; the calendar's URL."""
    home = server.home(n)
    if not server.authenticated:
        http.request("MKCOL", home).raise_for_status()
    return add_calendar(http, home, name=name, path="calendar")


def add_calendar(http: httpx.Client, home: str, *, name: str, path: str) -> str:
    """A calendar `name` in TIME_ZONE at `path` of the calendar home `home`; its URL."""
    calendar = f"{home}{path}/"
    body = (
        '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<D:displayname>{name}</D:displayname>"
        "<C:calendar-timezone><![CDATA["
        + zone_ics(TIME_ZONE)
        + "]]></C:calendar-timezone></D:prop></D:set></C:mkcalendar>"
    )
    http.request("MKCALENDAR", calendar, content=body).raise_for_status()
    return calendar


def login(server: Server, n: int) -> httpx.BasicAuth:
    return httpx.BasicAuth(server.user(n), PASSWORD)


def adapter(
    base: str,
    server: Server,
    n: int,
    http: httpx.AsyncClient,
    *,
    timeout: float,
    password: str = PASSWORD,
) -> CalDavCalendarClient:
    """The adapter for test account `n`, reaching the server at `base` (the proxy)."""
    return CalDavCalendarClient(
        http,
        email=EMAIL,
        username=server.user(n),
        password=password,
        home_url=f"{base}/u{n}/",
        default_calendar_url=None,
        addresses=(),
        time_zone=TIME_ZONE,
        timeout=timeout,
        retry=FAST,
    )


@dataclass
class CalDavHarness:
    """A real CalDAV server (Radicale or Xandikos) behind the counting proxy."""

    server: Server
    proxy: DavProxy
    app: CalendarApp
    n: int
    http: httpx.AsyncClient
    name: ClassVar[str] = "caldav"

    @property
    def calendar_id(self) -> str:
        return f"{self.proxy.url}/u{self.n}/calendar/"

    def client(self, *, timeout: float) -> CalendarClient:
        return adapter(self.proxy.url, self.server, self.n, self.http, timeout=timeout)

    def fail_next(
        self,
        status: int,
        *,
        operation: Operation,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> None:
        self.proxy.fail_next(status, operation=operation, times=times, retry_after=retry_after)

    def hang(self, *, operation: Operation, times: int | None = None, seconds: float) -> None:
        self.proxy.hang(operation=operation, times=times, seconds=seconds)

    def reset(self) -> None:
        self.proxy.clear_faults()

    def calls(self, operation: Operation) -> int:
        return len(self.proxy.calls(operation))

    def seed(self, event: ScriptedEvent) -> str:
        return self.app.add(event)

    def event_id(self, scenario_id: str) -> str:
        return self.app.ids[scenario_id]

    def move_event(self, event_id: str, start: dt.datetime, end: dt.datetime) -> None:
        self.app.move(event_id, start, end)

    def remove_event(self, event_id: str) -> None:
        self.app.remove(event_id)

    def expire_cursors(self) -> None:
        self.proxy.expire_tokens = True

    def squat(self, key: str) -> str:
        # The host's own meeting sits at the path the key's UID derives.
        return self.app.put(uid_for(key), calendar_of(app_event(SQUATTER, "host-own-meeting")))

    def seed_unreadable(self, event: ScriptedEvent) -> str:
        item = app_event(event, f"{event.id}-unreadable")
        if self.server.name == "radicale":
            # Radicale refuses (or hides) an event without a start: it keeps one that ends
            # before it starts, whose time no one can tell.
            end = item.decoded("DTEND")
            del item["DTEND"]
            item.add("dtend", end - dt.timedelta(days=2))
        else:
            del item["DTSTART"]
        return self.app.put(f"{event.id}-unreadable", calendar_of(item))


LOOPBACK = Trust.of((), ["127.0.0.0/8"])  # C46: the tests' servers listen on loopback


@contextlib.asynccontextmanager
async def caldav_harness(server: Server) -> AsyncIterator[CalDavHarness]:
    """A fresh account holding the scenario, behind a new proxy."""
    proxy = DavProxy(server.url).start()
    with httpx.Client(trust_env=False) as sync_http:
        n = next(_accounts)
        sync_http.auth = login(server, n)
        calendar = new_account(server, sync_http, n)
        app = CalendarApp(sync_http, calendar)
        app.add_scenario()
        async with httpx.AsyncClient(transport=CheckedTransport(LOOPBACK), trust_env=False) as http:
            try:
                yield CalDavHarness(server, proxy, app, n, http)
            finally:
                proxy.stop()


@contextlib.contextmanager
def fresh_account(server: Server) -> Iterator[tuple[int, CalendarApp]]:
    """A new account on `server` with one empty calendar, and the calendar app on it."""
    with httpx.Client(trust_env=False) as sync_http:
        n = next(_accounts)
        sync_http.auth = login(server, n)
        yield n, CalendarApp(sync_http, new_account(server, sync_http, n))
