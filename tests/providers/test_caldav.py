"""The CalDAV adapter against a real Radicale (a separate process), beyond the contract:
recurring series with overrides, EXDATE and RDATE, times in other zones, floating times,
all-day events across the DST change, a calendar shared read-only, writes that carry
SCHEDULE-AGENT=CLIENT and land once, lost access, the etag fallback, and an incremental
sync of a 1,000-event calendar that fetches only the 10 events that changed (counted by the
proxy in front of the server)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from icalendar import Event

from slotgraph.providers.base import Access
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import AddressNotAllowed
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import EventGone
from slotgraph.providers.base import Interval
from slotgraph.providers.caldav import CalDavCalendarClient
from slotgraph.providers.caldav import CalDavConnector
from slotgraph.providers.caldav import CalDavSettings
from slotgraph.providers.caldav import Nameserver
from slotgraph.providers.caldav.discovery import starting_urls
from slotgraph.providers.outbound import CheckedTransport
from slotgraph.providers.outbound import Trust
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import spread
from tests.fakes.scenario import utc
from tests.helpers.caldav import LOOPBACK
from tests.helpers.caldav import CalendarApp
from tests.helpers.caldav import adapter
from tests.helpers.caldav import app_event
from tests.helpers.caldav import calendar_of
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_servers import PASSWORD
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.dns_responder import DnsResponder
from tests.helpers.events import as_pairs
from tests.helpers.events import busy_of
from tests.helpers.events import draft

TIMEOUT = 30.0  # generous: the machine is shared, and nothing here times a request
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Account:
    server: Server
    proxy: DavProxy
    app: CalendarApp
    n: int
    client: CalDavCalendarClient
    http: httpx.AsyncClient

    @property
    def calendar_id(self) -> str:
        return f"{self.proxy.url}/u{self.n}/calendar/"

    def with_password(self, password: str) -> CalDavCalendarClient:
        """A client whose stored password the server no longer accepts."""
        return adapter(
            self.proxy.url, self.server, self.n, self.http, timeout=TIMEOUT, password=password
        )


@pytest.fixture
async def account(radicale_server: Server) -> AsyncIterator[Account]:
    proxy = DavProxy(radicale_server.url).start()
    with fresh_account(radicale_server) as (n, app):
        async with httpx.AsyncClient(transport=CheckedTransport(LOOPBACK), trust_env=False) as http:
            client = adapter(proxy.url, radicale_server, n, http, timeout=TIMEOUT)
            try:
                yield Account(radicale_server, proxy, app, n, client, http)
            finally:
                proxy.stop()


def _event(
    uid: str, summary: str, start: dt.datetime | dt.date, end: dt.datetime | dt.date
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    return event


async def test_recurrences_zones_floating_times_and_all_day_across_dst_follow_the_busy_rules(
    account: Account,
) -> None:
    # A daily series in Berlin (CET, +01:00): one day excluded, one moved, one cancelled,
    # one extra date; the series is in another zone than the calendar (New York).
    master = _event(
        "series",
        "Team sync",
        dt.datetime(2030, 3, 4, 10, tzinfo=BERLIN),
        dt.datetime(2030, 3, 4, 11, tzinfo=BERLIN),
    )
    master.add("rrule", {"freq": "daily", "count": 5})
    master.add("exdate", dt.datetime(2030, 3, 5, 10, tzinfo=BERLIN))
    master.add("rdate", dt.datetime(2030, 3, 10, 15, tzinfo=BERLIN))
    moved = _event(
        "series",
        "Team sync (moved)",
        dt.datetime(2030, 3, 6, 14, tzinfo=BERLIN),
        dt.datetime(2030, 3, 6, 15, tzinfo=BERLIN),
    )
    moved.add("recurrence-id", dt.datetime(2030, 3, 6, 10, tzinfo=BERLIN))
    cancelled = _event(
        "series",
        "Team sync",
        dt.datetime(2030, 3, 7, 10, tzinfo=BERLIN),
        dt.datetime(2030, 3, 7, 11, tzinfo=BERLIN),
    )
    cancelled.add("recurrence-id", dt.datetime(2030, 3, 7, 10, tzinfo=BERLIN))
    cancelled.add("status", "CANCELLED")
    account.app.put("series", calendar_of(master, moved, cancelled))
    # A declined series: none of it is busy.
    declined = app_event(
        ScriptedEvent("declined", "Board", utc(4, 18), utc(4, 19), response="DECLINED"), "board"
    )
    declined.add("rrule", {"freq": "daily", "count": 3})
    account.app.put("board", calendar_of(declined))
    # Floating: 09:00 wherever the calendar is (New York, EDT after 2030-03-10).
    account.app.put(
        "floating",
        calendar_of(
            _event("floating", "Gym", dt.datetime(2030, 3, 12, 9), dt.datetime(2030, 3, 12, 10))
        ),
    )
    account.app.add(
        ScriptedEvent("tokyo", "Tokyo call", utc(13, 0), utc(13, 0, 30)), zone="Asia/Tokyo"
    )
    # Two all-day dates across the US DST change (2030-03-10): 47 hours in New York.
    account.app.add(ScriptedEvent("trip", "Trip", dt.date(2030, 3, 9), dt.date(2030, 3, 11)))
    account.app.add(ScriptedEvent("free", "Reading", utc(12, 15), utc(12, 16), show_as="FREE"))
    expected = [
        (utc(4, 9), utc(4, 10)),
        (utc(6, 13), utc(6, 14)),  # the moved occurrence
        (utc(8, 9), utc(8, 10)),
        (utc(9, 5), utc(11, 4)),  # the trip, and inside it the extra date (14:00 UTC)
        (utc(12, 13), utc(12, 14)),  # floating 09:00 EDT
        (utc(13, 0), utc(13, 0, 30)),
    ]
    window = Interval(utc(4, 0), utc(14, 0))

    busy = await account.client.free_busy([account.calendar_id], window.start, window.end)
    listing = await account.client.list_changes(account.calendar_id, None, window)

    assert busy.errors == {}
    assert as_pairs(busy.busy[account.calendar_id]) == expected
    assert busy_of(listing.changed) == expected
    series_ids = sorted(e.remote_id for e in listing.changed if "series" in e.remote_id)
    assert [i.rsplit("#", 1)[1] for i in series_ids] == [
        "20300304T090000Z",
        "20300306T090000Z",  # the override keeps its original occurrence's id
        "20300307T090000Z",
        "20300308T090000Z",
        "20300310T140000Z",
    ]


async def test_editing_a_series_reports_the_occurrences_it_no_longer_has(
    account: Account,
) -> None:
    master = _event("daily", "Daily", utc(4, 14), utc(4, 15))
    master.add("rrule", {"freq": "daily", "count": 3})
    href = account.app.put("daily", calendar_of(master))
    window = Interval(utc(4, 0), utc(12, 0))
    full = await account.client.list_changes(account.calendar_id, None, window)
    assert len(full.changed) == 3

    shorter = _event("daily", "Daily", utc(4, 14), utc(4, 15))
    shorter.add("rrule", {"freq": "daily", "count": 2})
    account.app.put("daily", calendar_of(shorter))
    changes = await account.client.list_changes(account.calendar_id, full.next_cursor, window)

    assert sorted(e.remote_id for e in changes.changed) == [
        f"{href}#20300304T140000Z",
        f"{href}#20300305T140000Z",
    ]
    assert changes.removed == (f"{href}#20300306T140000Z",)


async def test_a_calendar_shared_read_only_is_a_reader_never_the_default(
    account: Account,
) -> None:
    # Radicale's rights let the user only read `readonly` (as a calendar shared read-only);
    # its owner put it and an event there.
    folder = account.server.root / "collection-root" / f"u{account.n}" / "readonly"
    folder.mkdir()
    (folder / ".Radicale.props").write_text(
        json.dumps({"tag": "VCALENDAR", "D:displayname": "Team (read-only)"})
    )
    (folder / "standup.ics").write_bytes(
        calendar_of(_event("team-standup", "Team standup", utc(5, 14), utc(5, 15)))
    )

    calendars = await account.client.list_calendars()

    assert [(c.name, c.access, c.is_primary) for c in calendars] == [
        ("Work", Access.OWNER, True),
        ("Team (read-only)", Access.READER, False),
    ]
    shared = calendars[1].remote_id
    busy = await account.client.free_busy([shared], utc(5, 0), utc(6, 0))
    assert as_pairs(busy.busy[shared]) == [(utc(5, 14), utc(5, 15))]
    with pytest.raises(CalendarGone):
        await account.client.create_event(shared, draft("on-shared"))


async def test_writes_carry_schedule_agent_client_and_change_the_server_once_each(
    account: Account,
) -> None:
    client = account.client
    event_id = await client.create_event(account.calendar_id, draft("booking-9"))
    assert await client.create_event(account.calendar_id, draft("booking-9")) == event_id
    stored = Calendar.from_ical(account.app.http.get(account.server.url + event_id).text)
    (event,) = stored.walk("VEVENT")
    assert event["ORGANIZER"].params["SCHEDULE-AGENT"] == "CLIENT"
    assert event["ATTENDEE"].params["SCHEDULE-AGENT"] == "CLIENT"  # C44: our email invites

    await client.update_event(
        account.calendar_id, event_id, draft("booking-9", start=utc(12, 16), end=utc(12, 17))
    )
    listing = await client.list_changes(account.calendar_id, None, Interval(utc(12, 0), utc(13, 0)))
    assert [(e.remote_id, e.start, e.end) for e in listing.changed] == [
        (event_id, utc(12, 16), utc(12, 17))
    ]
    puts = [e for e in account.proxy.exchanges if e.method == "PUT"]
    assert [e.status for e in puts] == [201, 412, 204]  # created, found again, moved once
    moved = Calendar.from_ical(account.app.http.get(account.server.url + event_id).text)
    assert moved.walk("VEVENT")[0]["SEQUENCE"] == 1

    await client.delete_event(account.calendar_id, event_id)
    await client.delete_event(account.calendar_id, event_id)  # already gone: fine
    assert account.app.http.get(account.server.url + event_id).status_code == 404
    with pytest.raises(EventGone):
        await client.update_event(account.calendar_id, event_id, draft("booking-9"))


async def test_a_refused_password_is_access_revoked_and_a_deleted_calendar_is_gone(
    account: Account,
) -> None:
    with pytest.raises(AccessRevoked):
        await account.with_password("changed-since").list_calendars()

    account.app.http.request("DELETE", account.app.calendar_url).raise_for_status()
    busy = await account.client.free_busy([account.calendar_id], utc(4, 0), utc(5, 0))
    assert isinstance(busy.errors[account.calendar_id], CalendarGone)
    assert busy.busy == {}


async def test_without_sync_collection_the_etag_listing_finds_the_changes(
    account: Account,
) -> None:
    account.proxy.without_sync_collection = True
    keep = account.app.add(ScriptedEvent("keep", "Keep", utc(4, 14), utc(4, 15)))
    move = account.app.add(ScriptedEvent("move", "Move", utc(5, 14), utc(5, 15)))
    drop = account.app.add(ScriptedEvent("drop", "Drop", utc(6, 14), utc(6, 15)))
    window = Interval(utc(4, 0), utc(12, 0))
    full = await account.client.list_changes(account.calendar_id, None, window)
    assert sorted(e.remote_id for e in full.changed) == sorted([keep, move, drop])

    account.app.move(move, utc(7, 14), utc(7, 15))
    account.app.remove(drop)
    changes = await account.client.list_changes(account.calendar_id, full.next_cursor, window)

    assert [(e.remote_id, e.start) for e in changes.changed] == [(move, utc(7, 14))]
    assert changes.removed == (drop,)


async def test_an_incremental_sync_of_1000_events_fetches_only_the_10_changed(
    account: Account,
) -> None:
    window = Interval(utc(4, 0), utc(28, 0))
    bulk = spread(1000, window.start, window.end)
    # One PUT of the whole collection (Radicale stores each VEVENT as its own resource).
    body = calendar_of(*(app_event(item, item.id) for item in bulk))
    account.app.http.put(
        account.app.calendar_url,
        content=body,
        headers={"Content-Type": "text/calendar"},
        timeout=120,
    ).raise_for_status()
    full = await account.client.list_changes(account.calendar_id, None, window)
    assert len(full.changed) == 1000
    hrefs = sorted({e.remote_id for e in full.changed})
    changed = hrefs[::100]
    for href, item in zip(changed, bulk[::100], strict=True):
        assert isinstance(item.start, dt.datetime)
        account.app.move(
            href, item.start + dt.timedelta(minutes=5), item.start + dt.timedelta(minutes=20)
        )
    account.proxy.exchanges.clear()

    changes = await account.client.list_changes(account.calendar_id, full.next_cursor, window)

    assert sorted(e.remote_id for e in changes.changed) == changed
    assert changes.removed == ()
    requests = [(e.method, e.operation, e.hrefs) for e in account.proxy.exchanges]
    # One sync-collection report, then one multiget asking for exactly the 10 changed.
    assert requests == [("REPORT", "list_changes", 0), ("REPORT", "list_changes", 10)]


async def test_known_providers_come_first_then_rfc6764_then_the_nextcloud_path() -> None:
    responder = DnsResponder().start()
    nameserver = Nameserver("127.0.0.1", responder.port)
    try:
        assert await starting_urls("a@icloud.com", None, nameserver, 2.0) == [
            "https://caldav.icloud.com/"
        ]
        assert await starting_urls("a@fastmail.com", None, nameserver, 2.0) == [
            "https://caldav.fastmail.com/dav/"
        ]
        assert responder.queries == []  # presets need no DNS (C44)
        responder.records[("_caldavs._tcp.example.test.", "SRV")] = ["0 1 8443 dav.example.test."]
        responder.records[("_caldavs._tcp.example.test.", "TXT")] = ['"path=/caldav/"']
        assert await starting_urls("a@example.test", None, nameserver, 2.0) == [
            "https://dav.example.test:8443/caldav/",
            "https://example.test/.well-known/caldav",
            "https://example.test/remote.php/dav",
        ]
        assert await starting_urls("a@example.test", "https://given.test/dav", None, 2.0) == [
            "https://given.test/dav"
        ]
    finally:
        responder.stop()


async def test_a_user_supplied_url_on_loopback_is_refused_unless_allowed(
    radicale_server: Server,
) -> None:
    connector = CalDavConnector(CalDavSettings(timeout=TIMEOUT), trust=Trust())  # C46
    try:
        with pytest.raises(AddressNotAllowed):
            await connector.connect(
                email="ada@example.test",
                password=PASSWORD,
                username="u0",
                server_url=radicale_server.url,
            )
    finally:
        await connector.aclose()
