"""The Exchange adapter (S2, S11 lifted per C11) against the protocol-level EWS fake: exchangelib
builds and parses real SOAP, the fake answers as an Exchange server would.

Autodiscover is reached by seeding exchangelib's autodiscover cache with the fake's endpoint
(exchangelib only autodiscovers over HTTPS on port 443 after dnspython lookups); exchangelib
then sends a real GetUserSettings request to the fake, as after a cache hit in production.
No database is involved.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from exchangelib.autodiscover import cache as autodiscover_cache_module
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.configuration import Configuration
from exchangelib.credentials import Credentials
from exchangelib.protocol import FailFast
from exchangelib.protocol import close_connections

import slotgraph.providers.exchange.sync as exchange_sync
from slotgraph.providers.base import Access
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import AuthenticationFailed
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import DiscoveryFailed
from slotgraph.providers.base import Interval
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RateLimited
from slotgraph.providers.base import ServerUnreachable
from slotgraph.providers.base import ServerUnsupported
from slotgraph.providers.exchange import ExchangeCredentials
from slotgraph.providers.exchange import connect_exchange
from slotgraph.providers.retry import FAST
from tests.fakes.exchange import EXCHANGE_2007_SP3
from tests.fakes.exchange import EXCHANGE_2010_SP1
from tests.fakes.exchange import EXCHANGE_2010_SP2
from tests.fakes.exchange import EXCHANGE_2016
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.exchange import ServerBuild
from tests.fakes.exchange import mailbox_addresses
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import WINDOW_END
from tests.fakes.scenario import WINDOW_START
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import utc
from tests.helpers.events import as_pairs
from tests.helpers.events import busy_of
from tests.helpers.events import changes_since
from tests.helpers.events import draft
from tests.helpers.exchange import TIMEOUT
from tests.helpers.exchange import client_for
from tests.helpers.exchange import creds_for


@pytest.fixture(scope="module", autouse=True)
def _close_exchangelib_sessions() -> Iterator[None]:
    """exchangelib caches a protocol (and its HTTP sessions) per endpoint and login."""
    yield
    close_connections()


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange() as server:
        yield server


@pytest.fixture
async def limiter() -> anyio.CapacityLimiter:
    """Async so the limiter is made inside the test's event loop."""
    return anyio.CapacityLimiter(4)


@pytest.fixture
def client(fake: FakeExchange, limiter: anyio.CapacityLimiter) -> CalendarClient:
    return client_for(fake, limiter)


Seed = Callable[[str, FakeExchange], None]


@pytest.fixture
def seed_autodiscover_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Seed]:
    """Point exchangelib's autodiscover cache (a shelve file in the temp dir) at a fresh file
    and return a function that maps an email domain to a fake's autodiscover endpoint."""
    monkeypatch.setattr(
        autodiscover_cache_module, "AUTODISCOVER_PERSISTENT_STORAGE", tmp_path / "autodiscover"
    )
    cache = autodiscover_cache_module.autodiscover_cache

    def seed(domain: str, fake: FakeExchange) -> None:
        # The cache persists endpoint and auth type only; the login comes with each lookup.
        protocol = AutodiscoverProtocol(
            config=Configuration(
                service_endpoint=fake.autodiscover_url,
                credentials=Credentials("seed@example.test", "unused"),
                auth_type="basic",
                retry_policy=FailFast(),
            )
        )
        cache[(domain, None)] = protocol

    yield seed
    cache.clear()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- connecting (S2) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "api_version"),
    [(EXCHANGE_2010_SP2, "Exchange2010_SP2"), (EXCHANGE_2016, "Exchange2016")],
)
async def test_connect_with_explicit_ews_url_detects_version_and_mailbox_zone(
    limiter: anyio.CapacityLimiter, build: ServerBuild, api_version: str
) -> None:
    with FakeExchange(build=build) as fake:
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        probes = fake.operations("ConvertId", status=None)

    assert info.ews_url == fake.url
    assert info.version == api_version
    assert info.build == f"{build.major}.{build.minor}.{build.major_build}.{build.minor_build}"
    assert info.time_zone == TIME_ZONE
    assert info.username == fake.email
    # exchangelib asks for the newest API first and walks down past the refusals.
    assert probes[-1].status == 200
    assert probes[-1].requested_version == api_version
    assert probes[0].requested_version == "Exchange2016"


@pytest.mark.parametrize("build", [EXCHANGE_2007_SP3, EXCHANGE_2010_SP1])
async def test_server_older_than_exchange_2010_sp2_is_refused(
    limiter: anyio.CapacityLimiter, build: ServerBuild
) -> None:
    with FakeExchange(build=build) as fake, pytest.raises(ServerUnsupported) as refused:
        await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert "2010 SP2" in refused.value.message


async def test_wrong_password_fails_with_the_app_password_hint(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> None:
    wrong = "not-the-password"
    with pytest.raises(AuthenticationFailed) as refused:
        await connect_exchange(creds_for(fake, password=wrong), limiter=limiter, timeout=TIMEOUT)
    assert "app password" in refused.value.message
    assert wrong not in str(refused.value)
    assert {r.status for r in fake.operations(status=None)} == {401}


async def test_username_defaults_to_the_email_then_the_part_before_the_at(
    limiter: anyio.CapacityLimiter,
) -> None:
    with FakeExchange(username="alice") as fake:
        implicit = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        explicit = await connect_exchange(
            creds_for(fake, username="alice"), limiter=limiter, timeout=TIMEOUT
        )
    assert implicit.username == "alice"
    assert explicit.username == "alice"


async def test_unreachable_ews_url_fails_fast_with_server_unreachable(
    limiter: anyio.CapacityLimiter,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/EWS/Exchange.asmx"
    creds = ExchangeCredentials("alice@example.test", PASSWORD, ews_url=url)
    started = time.monotonic()
    with pytest.raises(ServerUnreachable):
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT


async def test_a_connect_answers_within_its_whole_deadline_however_many_probes_are_left(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> None:
    """Each request alone is within `timeout`, but the whole connect (auth-type and version
    probing, every username) is bounded by `deadline`: the typed error says so."""
    fake.fail("slow", times=None, delay=TIMEOUT * 1.5)
    with pytest.raises(ServerUnreachable) as refused:
        await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT, deadline=0.5)
    assert refused.value.message == (
        "The Exchange server did not answer in time; check the EWS URL."
    )
    # The auth-type probe (answered 401 at once), then the first version probe, abandoned.
    assert [r.status for r in fake.operations(status=None)] == [401, 200]
    fake.clear_faults()


async def test_ews_url_whose_host_does_not_resolve_fails_fast_with_server_unreachable(
    limiter: anyio.CapacityLimiter,
) -> None:
    url = "https://exchange.nowhere.invalid/EWS/Exchange.asmx"
    creds = ExchangeCredentials("alice@example.test", PASSWORD, ews_url=url)
    started = time.monotonic()
    with pytest.raises(ServerUnreachable):
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)
    assert time.monotonic() - started < 2 * TIMEOUT + 1


async def test_url_without_an_ews_endpoint_is_server_unreachable(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> None:
    creds = creds_for(fake, ews_url=fake.base_url + "/owa/")
    with pytest.raises(ServerUnreachable) as refused:
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)
    assert "EWS" in refused.value.message


async def test_autodiscover_finds_the_ews_url(
    fake: FakeExchange, limiter: anyio.CapacityLimiter, seed_autodiscover_cache: Seed
) -> None:
    seed_autodiscover_cache("example.test", fake)
    info = await connect_exchange(
        creds_for(fake, autodiscover=True), limiter=limiter, timeout=TIMEOUT
    )
    assert info.ews_url == fake.url
    assert [r.operation for r in fake.operations("GetUserSettings")] == ["GetUserSettings"]


async def test_autodiscover_without_a_server_is_discovery_failed(
    limiter: anyio.CapacityLimiter, seed_autodiscover_cache: Seed
) -> None:
    creds = ExchangeCredentials("alice@nowhere.invalid", PASSWORD)
    started = time.monotonic()
    with pytest.raises(DiscoveryFailed) as failed:
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)
    assert "EWS URL" in failed.value.message
    assert time.monotonic() - started < 10 * TIMEOUT


async def test_autodiscover_that_knows_no_such_mailbox_is_discovery_failed(
    fake: FakeExchange, limiter: anyio.CapacityLimiter, seed_autodiscover_cache: Seed
) -> None:
    seed_autodiscover_cache("example.test", fake)
    # A valid login (alice) typing an address autodiscover does not know.
    creds = ExchangeCredentials("alicia@example.test", PASSWORD, username=fake.email)
    with pytest.raises(DiscoveryFailed):
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)


@pytest.mark.parametrize(
    ("zone_source", "zone", "expected"),
    [("workhours", "Europe/Paris", "Europe/Paris"), ("none", TIME_ZONE, "UTC")],
)
async def test_mailbox_zone_falls_back_to_working_hours_then_utc(
    limiter: anyio.CapacityLimiter, zone_source: str, zone: str, expected: str
) -> None:
    with FakeExchange(zone_source=zone_source, time_zone=zone) as fake:  # type: ignore[arg-type]
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert info.time_zone == expected


@pytest.mark.parametrize(
    "code", ["ErrorInternalServerError", "ErrorInvalidRequest", "ErrorSchemaValidation", "503"]
)
async def test_a_failing_optional_look_up_falls_back_and_connect_succeeds(
    limiter: anyio.CapacityLimiter, code: str
) -> None:
    # The mailbox zone is optional: whatever its look-ups fail with, connect goes on in UTC.
    with FakeExchange() as fake:
        if code == "503":
            fake.fail("http503", operation="GetUserConfiguration", times=None)
        else:
            fake.fail("refuse", operation="GetUserConfiguration", times=None, code=code)
        info = await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
        looked_up = fake.operations("GetUserConfiguration", status=None)
    assert info.time_zone == "UTC"
    assert looked_up


@pytest.mark.parametrize(
    ("kind", "cause"), [("http503", "HTTP 503"), ("refuse", "ErrorInternalServerError")]
)
async def test_a_server_that_answers_with_a_fault_is_not_called_unreachable(
    limiter: anyio.CapacityLimiter, kind: str, cause: str
) -> None:
    # Every error names its real cause: the server answered, so it was reached.
    with FakeExchange() as fake:
        fake.fail(kind, operation=None, times=None)  # type: ignore[arg-type]
        with pytest.raises(ProviderError) as failed:
            await connect_exchange(creds_for(fake), limiter=limiter, timeout=TIMEOUT)
    assert cause in failed.value.message
    assert "reach" not in failed.value.message.lower()


async def test_password_never_reaches_logs_reprs_or_messages(
    fake: FakeExchange, limiter: anyio.CapacityLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    basic = base64.b64encode(f"{fake.email}:{PASSWORD}".encode()).decode()
    creds = creds_for(fake)
    with caplog.at_level(logging.DEBUG):
        await connect_exchange(creds, limiter=limiter, timeout=TIMEOUT)
        client = client_for(fake, limiter)
        await client.list_calendars()
    assert caplog.records, "exchangelib's debug log was captured"
    for text in (caplog.text, repr(creds), repr(client)):
        assert PASSWORD not in text
        assert basic not in text


# -- calendars and free/busy -------------------------------------------------------------


async def test_list_calendars_returns_the_primary_calendar_then_sub_calendars(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> None:
    # Nothing stored: the client probes the version and reads the mailbox zone itself.
    client = client_for(fake, limiter, version=None, time_zone=None)
    calendars = await client.list_calendars()
    assert [(c.remote_id, c.name, c.is_primary) for c in calendars] == [
        (fake.email, "Calendar", True),
        ("AAMkFolder-team-offsite", "Team offsite", False),
    ]
    assert {c.access for c in calendars} == {Access.OWNER}
    assert {c.time_zone for c in calendars} == {TIME_ZONE}
    assert len(fake.operations("GetUserConfiguration")) == 1


async def test_free_busy_asks_availability_for_the_mailbox_once(
    fake: FakeExchange, client: CalendarClient
) -> None:
    # The busy time itself (C4) is the contract's (tests/providers/contract).
    await client.free_busy([fake.email], WINDOW_START, WINDOW_END)
    (request,) = fake.operations("GetUserAvailability")
    assert request.mailboxes == 1


async def test_free_busy_splits_requests_at_100_mailboxes_and_42_days(
    fake: FakeExchange, client: CalendarClient
) -> None:
    others = mailbox_addresses(149)
    fake.other_mailboxes.update(others)
    start = WINDOW_START
    end = start + dt.timedelta(days=60)

    result = await client.free_busy([fake.email, *others], start, end)

    requests = fake.operations("GetUserAvailability")
    assert sorted((r.mailboxes, r.window) for r in requests) == sorted(
        (count, window)
        for count in (100, 50)
        for window in (
            (start, start + dt.timedelta(days=42)),
            (start + dt.timedelta(days=42), end),
        )
    )
    assert result.errors == {}
    assert len(result.busy) == 150
    assert as_pairs(result.busy[fake.email]) == list(EXPECTED_BUSY)


async def test_unknown_mailbox_and_missing_free_busy_data_are_errors_not_free_time(
    fake: FakeExchange, client: CalendarClient
) -> None:
    fake.no_data_mailboxes.add("hidden@example.test")
    ids = [fake.email, "ghost@example.test", "hidden@example.test"]

    result = await client.free_busy(ids, WINDOW_START, WINDOW_END)

    assert set(result.busy) == {fake.email}
    assert isinstance(result.errors["ghost@example.test"], CalendarGone)
    assert isinstance(result.errors["hidden@example.test"], ProviderError)
    assert not isinstance(result.errors["hidden@example.test"], CalendarGone)


async def test_sub_calendar_free_busy_comes_from_its_calendar_view(
    fake: FakeExchange, client: CalendarClient
) -> None:
    sub = "AAMkFolder-team-offsite"
    fake.add_event(ScriptedEvent("trip", "Trip", utc(5, 15), utc(5, 17)), folder_id=sub)
    fake.add_event(
        ScriptedEvent("idea", "Idea", utc(6, 15), utc(6, 16), show_as="FREE"), folder_id=sub
    )

    result = await client.free_busy([sub, "AAMkFolder-deleted"], WINDOW_START, WINDOW_END)

    assert as_pairs(result.busy[sub]) == [(utc(5, 15), utc(5, 17))]
    assert isinstance(result.errors["AAMkFolder-deleted"], CalendarGone)
    assert fake.operations("GetUserAvailability") == []


# -- writing: create, reschedule, cancel (C11) -------------------------------------------


async def test_create_twice_with_the_same_idempotency_key_creates_one_item(
    fake: FakeExchange, client: CalendarClient
) -> None:
    first = await client.create_event(fake.email, draft("booking-1"))
    second = await client.create_event(fake.email, draft("booking-1"))

    assert first == second
    (item,) = fake.items_with_key("booking-1")
    assert (item.id, item.subject, item.start, item.end) == (
        first,
        "Intro call",
        utc(12, 15),
        utc(12, 15, 30),
    )
    assert item.attendees == ["contact@client.test"]
    assert fake.notifications == [("CreateItem", first, "SendToAllAndSaveCopy")]
    assert len(fake.operations("CreateItem")) == 1


async def test_reschedule_and_cancel_work_on_exchange(
    fake: FakeExchange, client: CalendarClient
) -> None:
    event_id = await client.create_event(fake.email, draft("booking-2"))

    moved = draft("booking-2", start=utc(12, 18), end=utc(12, 18, 45), title="Moved call")
    await client.update_event(fake.email, event_id, moved)
    item = fake.items[event_id]
    assert (item.subject, item.start, item.end) == ("Moved call", utc(12, 18), utc(12, 18, 45))

    await client.delete_event(fake.email, event_id)
    assert event_id not in fake.items
    await client.delete_event(fake.email, event_id)  # already gone: fine

    assert [(op, mode) for op, _, mode in fake.notifications] == [
        ("CreateItem", "SendToAllAndSaveCopy"),
        ("UpdateItem", "SendToAllAndSaveCopy"),
        ("DeleteItem", "SendToAllAndSaveCopy"),
    ]
    with pytest.raises(ProviderError, match="no longer exists"):
        await client.update_event(fake.email, event_id, moved)


# -- sync --------------------------------------------------------------------------------


async def full_listing(client: CalendarClient, calendar_id: str) -> ChangeSet:
    return await changes_since(client, calendar_id, None)


async def test_a_full_listing_has_nothing_removed(
    fake: FakeExchange, client: CalendarClient
) -> None:
    # Busy time, cursor and private events of the full listing are the contract's.
    listing = await full_listing(client, fake.email)
    assert listing.removed == ()  # the cancelled occurrence is a deleted occurrence


async def test_all_day_items_answered_as_dates_are_read_as_their_dates(
    fake: FakeExchange, client: CalendarClient
) -> None:
    # The server says IsAllDayEvent unasked: exchangelib hands the items over as dates.
    fake.announce_all_day = True
    listing = await full_listing(client, fake.email)
    assert listing.skipped == ()
    assert busy_of(listing.changed) == list(EXPECTED_BUSY)  # C4: dates in the calendar's zone
    offsite = next(e for e in listing.changed if e.remote_id == fake.item_id("offsite"))
    assert (offsite.all_day, offsite.start, offsite.end) == (
        True,
        dt.datetime(2030, 3, 6, tzinfo=dt.UTC),
        dt.datetime(2030, 3, 7, tzinfo=dt.UTC),
    )
    new = fake.add_event(ScriptedEvent("trip", "Trip", dt.date(2030, 3, 8), dt.date(2030, 3, 10)))
    changes = await changes_since(client, fake.email, listing.next_cursor)
    trip = next(e for e in changes.changed if e.remote_id == new.id)
    assert (trip.start, trip.end) == (
        dt.datetime(2030, 3, 8, tzinfo=dt.UTC),
        dt.datetime(2030, 3, 10, tzinfo=dt.UTC),
    )


async def test_incremental_sync_reports_new_items_outside_the_window_as_removed(
    fake: FakeExchange, client: CalendarClient
) -> None:
    # What changed inside the window is the contract's.
    listing = await full_listing(client, fake.email)
    later = fake.add_event(ScriptedEvent("later", "Next month", utc(28, 15), utc(28, 16))).id

    changes = await changes_since(client, fake.email, listing.next_cursor)

    assert changes.removed == (later,)
    assert changes.changed == ()


async def test_incremental_sync_pages_large_change_sets(
    fake: FakeExchange, client: CalendarClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange_sync, "SYNC_PAGE_SIZE", 2)
    listing = await full_listing(client, fake.email)
    for day in (9, 10, 11):
        fake.add_event(ScriptedEvent(f"extra-{day}", "Extra", utc(day, 18), utc(day, 19)))

    first = await client.list_changes(
        fake.email, listing.next_cursor, Interval(WINDOW_START, WINDOW_END)
    )
    assert (len(first.changed), first.next_cursor) == (2, None)
    assert first.next_page is not None
    rest = await client.list_changes(
        fake.email,
        listing.next_cursor,
        Interval(WINDOW_START, WINDOW_END),
        page=first.next_page,
    )
    assert len(rest.changed) == 1
    assert rest.next_cursor is not None


async def test_changed_or_deleted_recurring_series_asks_for_a_full_sync(
    fake: FakeExchange, client: CalendarClient
) -> None:
    listing = await full_listing(client, fake.email)
    fake.touch(fake.item_id("one-on-one"))
    with pytest.raises(CursorExpired):
        await client.list_changes(
            fake.email, listing.next_cursor, Interval(WINDOW_START, WINDOW_END)
        )

    listing = await full_listing(client, fake.email)
    fake.remove_event(fake.item_id("one-on-one"))
    with pytest.raises(CursorExpired):
        await client.list_changes(
            fake.email, listing.next_cursor, Interval(WINDOW_START, WINDOW_END)
        )


async def test_a_sync_state_it_never_issued_is_cursor_expired(
    fake: FakeExchange, client: CalendarClient
) -> None:
    # An expired sync state is the contract's.
    with pytest.raises(CursorExpired):
        await changes_since(client, fake.email, "not a cursor")


# -- throttling and failures ---------------------------------------------------------------


async def test_persistent_server_busy_ends_in_rate_limited(
    fake: FakeExchange, client: CalendarClient
) -> None:
    fake.fail("busy", operation="GetUserAvailability", times=None, back_off_ms=50)
    with pytest.raises(RateLimited) as limited:
        await client.free_busy([fake.email], WINDOW_START, WINDOW_END)
    assert limited.value.retry_after == pytest.approx(0.05)
    assert len(fake.operations("GetUserAvailability", status=500)) == FAST.attempts


async def test_http_503_is_transient_and_retried(
    fake: FakeExchange, client: CalendarClient
) -> None:
    fake.fail("http503", operation="GetFolder")
    calendars = await client.list_calendars()
    assert calendars[0].is_primary
    assert [r.status for r in fake.operations("GetFolder", status=None)] == [503, 200]


async def test_password_changed_after_connecting_is_access_revoked(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> None:
    client = client_for(fake, limiter, password="an old password")
    with pytest.raises(AccessRevoked) as revoked:
        await client.list_calendars()
    assert "app password" in revoked.value.message
