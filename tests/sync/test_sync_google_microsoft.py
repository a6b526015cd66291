"""The sync engine (C1, C2, C4, S13) with the Google and Microsoft 365 adapters
against their protocol-level fakes: httpx (and msal for Microsoft) send real requests over
loopback; the engine stores events in real PostgreSQL. What the engine transferred is read
off the fakes' request logs (items per answer); what it stored is compared with the scenario's
C4 busy time, the same expectation every adapter's free/busy read must meet (C4 agreement
through the sync path)."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars.synced_busy import synced_busy
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import sync_connection
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models import SyncedEvent
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import SyncState
from slotgraph.providers.base import CalendarClient
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import merged
from tests.fakes.scenario import spread
from tests.fakes.scenario import utc
from tests.helpers.accounts import OWNED_PRIMARY
from tests.helpers.accounts import Factory
from tests.helpers.clients import FixedClients
from tests.helpers.clock import Clock
from tests.helpers.google import google_client
from tests.helpers.microsoft import SecretBox
from tests.helpers.microsoft import connect
from tests.helpers.microsoft import oauth_for

NOW = dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC)  # before the scenario week
SPAN = (utc(4, 0), utc(12, 0))  # the scenario week
# The bulk lies after the scenario week and inside the synced window (NOW + 30 + 7 days).
BULK = (utc(12, 0), utc(31, 0))
CONFIG = SyncConfig(
    interval=dt.timedelta(minutes=5),
    ahead=dt.timedelta(days=30),
    margin=dt.timedelta(days=7),
    max_attempts=3,
)
TIMEOUT = 30.0


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def context(
    sessionmaker: async_sessionmaker[AsyncSession], client: CalendarClient, clock: Clock
) -> SyncContext:
    return SyncContext(
        sessionmaker=sessionmaker,
        clients=FixedClients(client, sessionmaker),
        config=CONFIG,
        clock=clock,
        worker="worker-a",
    )


async def stored_busy(
    sessionmaker: async_sessionmaker[AsyncSession], calendar: RemoteCalendar, clock: Clock
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    async with sessionmaker() as session:
        answer = await synced_busy(
            session, [calendar.id], *SPAN, now=clock(), freshness=dt.timedelta(hours=1)
        )
    spans = answer[calendar.id]
    return None if spans is None else merged([(s.start, s.end) for s in spans])


async def held(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(SyncedEvent)) or 0)


async def reload(
    sessionmaker: async_sessionmaker[AsyncSession], row: CalendarConnection
) -> CalendarConnection:
    async with sessionmaker() as session:
        found = await session.get(CalendarConnection, row.id)
    assert found is not None
    return found


def ten_changes(
    fake: FakeGoogle | FakeMicrosoft, bulk: list[ScriptedEvent], event_id: dict[str, str]
) -> None:
    """4 moves, 3 deletions and 3 new events among the bulk."""
    for event in bulk[:4]:
        assert isinstance(event.start, dt.datetime)
        moved = event.start + dt.timedelta(minutes=1)
        fake.move_event(event_id[event.id], moved, moved + dt.timedelta(minutes=1))
    for event in bulk[100:103]:
        fake.remove_event(event_id[event.id])
    for n in range(3):
        at = BULK[1] + dt.timedelta(hours=n + 1)
        fake.add_event(ScriptedEvent(f"new{n}", "New", at, at + dt.timedelta(minutes=30)))


async def assert_ten_changes_transfer_only_the_changes(
    ctx: SyncContext,
    clock: Clock,
    connection: CalendarConnection,
    primary: RemoteCalendar,
    fake: FakeGoogle | FakeMicrosoft,
    bulk: list[ScriptedEvent],
    ids: dict[str, str],
    listings: Callable[[int], list[tuple[bool, int | None, int]]],
    *,
    pages: int,
) -> None:
    """A full sync lists the bulk and the scenario (17 items) in `pages` pages and stores
    C4's busy time; after ten changes the next sync transfers them in one answer after the
    cursor, and stores them."""
    sessionmaker = ctx.sessionmaker
    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED

    full = listings(0)
    assert len(full) == pages
    assert sum(items or 0 for _, items, _ in full) == len(bulk) + 17
    assert await stored_busy(sessionmaker, primary, clock) == list(EXPECTED_BUSY)
    before = await held(sessionmaker)
    assert (await reload(sessionmaker, connection)).events_synced == before

    ten_changes(fake, bulk, ids)
    mark = len(fake.requests)
    clock.advance(CONFIG.interval)

    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED

    assert listings(mark) == [(True, 10, 200)]  # the ten changes, nothing else
    assert await held(sessionmaker) == before
    async with sessionmaker() as session:
        moved = await session.get(SyncedEvent, (primary.id, ids[bulk[1].id]))
        removed = await session.get(SyncedEvent, (primary.id, ids[bulk[100].id]))
    assert moved is not None
    assert isinstance(bulk[1].start, dt.datetime)
    assert (moved.busy_start, moved.busy_end) == (
        bulk[1].start + dt.timedelta(minutes=1),
        bulk[1].start + dt.timedelta(minutes=2),
    )
    assert removed is None
    assert await stored_busy(sessionmaker, primary, clock) == list(EXPECTED_BUSY)


async def on_fake(
    factory: Factory, provider: Provider, email: str
) -> tuple[CalendarConnection, RemoteCalendar]:
    """A connected account (sync off) whose primary calendar is the fake's (`email`)."""
    connection, (primary,) = await factory.connection(
        await factory.person(),
        provider=provider,
        calendar_sync=False,
        account_email=email,
        primary=OWNED_PRIMARY,
        primary_remote_id=email,
        time_zone=TIME_ZONE,
    )
    return connection, primary


# -- Google ------------------------------------------------------------------------------


def google_listings(google: FakeGoogle, mark: int) -> list[tuple[bool, int | None, int]]:
    """(incremental?, items answered, status) of the events.list calls after `mark`."""
    return [
        ("syncToken" in r.query, r.items, r.status)
        for r in google.requests[mark:]
        if r.operation == "events.list"
    ]


async def test_google_ten_changes_in_ten_thousand_events_transfer_only_the_changes(
    google: FakeGoogle,
    http: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    bulk = spread(10_000, *BULK)
    ids = {event.id: google.add_event(event) for event in bulk}
    connection, primary = await on_fake(factory, Provider.GOOGLE, google.email)
    ctx = context(sessionmaker, google_client(google, http), clock)

    await assert_ten_changes_transfer_only_the_changes(
        ctx,
        clock,
        connection,
        primary,
        google,
        bulk,
        ids,
        lambda mark: google_listings(google, mark),
        pages=41,  # 250 a page, as the adapter asks
    )


async def test_google_expired_sync_token_resyncs_the_calendar_in_full(
    google: FakeGoogle,
    http: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    connection, primary = await on_fake(factory, Provider.GOOGLE, google.email)
    ctx = context(sessionmaker, google_client(google, http), clock)
    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED
    google.expire_sync_tokens()
    google.remove_event(google.event_id("standup"))
    mark = len(google.requests)
    clock.advance(CONFIG.interval)

    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED

    assert google_listings(google, mark) == [(True, None, 410), (False, 17, 200)]
    assert await stored_busy(sessionmaker, primary, clock) == list(EXPECTED_BUSY[1:])
    row = await reload(sessionmaker, connection)
    assert (row.sync_state, row.status) == (SyncState.SYNCED, ConnectionStatus.CONNECTED)


async def test_google_revoked_grant_marks_the_connection_access_lost(
    google: FakeGoogle,
    http: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    connection, _ = await on_fake(factory, Provider.GOOGLE, google.email)
    ctx = context(sessionmaker, google_client(google, http), clock)
    google.revoke_grants()  # the user removed the app at myaccount.google.com

    assert await sync_connection(ctx, connection.id) is Outcome.ACCESS_LOST

    row = await reload(sessionmaker, connection)
    assert (row.status, row.sync_state, row.next_sync_at) == (
        ConnectionStatus.ACCESS_LOST,
        SyncState.ERROR,
        None,
    )
    assert row.last_error is not None
    for secret in google.issued_secrets():
        assert secret not in row.last_error


# -- Microsoft 365 -----------------------------------------------------------------------


@pytest.fixture
def microsoft() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(page_size=100) as fake:
        yield fake


@pytest.fixture
async def graph_http(microsoft: FakeMicrosoft, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    ca_file = microsoft.write_ca(tmp_path / "ca.pem")
    tls = ssl.create_default_context(cafile=str(ca_file))
    async with httpx.AsyncClient(verify=tls, trust_env=False, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
async def microsoft_client(
    microsoft: FakeMicrosoft, graph_http: httpx.AsyncClient, tmp_path: Path
) -> CalendarClient:
    oauth = oauth_for(microsoft, graph_http, tmp_path / "ca.pem", timeout=TIMEOUT)
    grant = await connect(oauth, graph_http)
    return oauth.client(SecretBox(oauth, grant.secret), microsoft.email)


def deltas(microsoft: FakeMicrosoft, mark: int) -> list[tuple[bool, int | None, int]]:
    """(incremental?, items answered, status) of the delta calls after `mark`."""
    return [
        ("$deltatoken" in r.query, r.items, r.status)
        for r in microsoft.requests[mark:]
        if r.path.endswith("/calendarView/delta")
    ]


async def test_microsoft_ten_changes_in_ten_thousand_events_transfer_only_the_changes(
    microsoft: FakeMicrosoft,
    microsoft_client: CalendarClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    bulk = spread(10_000, *BULK)
    for event in bulk:
        microsoft.add_event(event)
    ids = {event.id: microsoft.event_id(event.id) for event in bulk}
    connection, primary = await on_fake(factory, Provider.MICROSOFT365, microsoft.email)
    ctx = context(sessionmaker, microsoft_client, clock)

    await assert_ten_changes_transfer_only_the_changes(
        ctx,
        clock,
        connection,
        primary,
        microsoft,
        bulk,
        ids,
        lambda mark: deltas(microsoft, mark),
        pages=101,  # 100 a page, as the adapter asks (Prefer: odata.maxpagesize)
    )


async def test_microsoft_expired_delta_token_resyncs_the_calendar_in_full(
    microsoft: FakeMicrosoft,
    microsoft_client: CalendarClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    connection, primary = await on_fake(factory, Provider.MICROSOFT365, microsoft.email)
    ctx = context(sessionmaker, microsoft_client, clock)
    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED
    microsoft.expire_delta_tokens()
    microsoft.remove_event(microsoft.event_id("standup"))
    mark = len(microsoft.requests)
    clock.advance(CONFIG.interval)

    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED

    assert deltas(microsoft, mark) == [(True, None, 410), (False, 16, 200)]
    assert await stored_busy(sessionmaker, primary, clock) == list(EXPECTED_BUSY[1:])


async def test_microsoft_revoked_consent_marks_the_connection_access_lost(
    microsoft: FakeMicrosoft,
    microsoft_client: CalendarClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    connection, _ = await on_fake(factory, Provider.MICROSOFT365, microsoft.email)
    ctx = context(sessionmaker, microsoft_client, clock)
    microsoft.revoke_grants()
    microsoft.expire_access_tokens()

    assert await sync_connection(ctx, connection.id) is Outcome.ACCESS_LOST

    row = await reload(sessionmaker, connection)
    assert (row.status, row.sync_state, row.next_sync_at) == (
        ConnectionStatus.ACCESS_LOST,
        SyncState.ERROR,
        None,
    )
