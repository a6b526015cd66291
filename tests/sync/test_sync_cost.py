"""What a sync costs when nothing changed, and how much a worker's sweep takes on (issue 15,
part 4; `bench/sync_capacity.py` measures the same at 1,000 calendars). Real PostgreSQL,
the real Google adapter against the Google fake over loopback HTTP; SQL statements are
counted by a SQLAlchemy event listener on the engine."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from collections.abc import Iterator

import anyio
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import request_sync
from slotgraph.calsync.engine import run_claimed
from slotgraph.calsync.engine import sync_connection
from slotgraph.calsync.leases import claim
from slotgraph.calsync.scheduler import run_due_syncs
from slotgraph.calsync.scheduler import sweep_due_syncs
from slotgraph.calsync.watches import WatchConfig
from slotgraph.calsync.watches import Watches
from slotgraph.models import CalendarConnection
from slotgraph.models.enums import Provider
from slotgraph.providers.base import CalendarClient
from tests.fakes.google import FakeGoogle
from tests.fakes.scenario import TIME_ZONE
from tests.helpers.accounts import OWNED_PRIMARY
from tests.helpers.accounts import Factory
from tests.helpers.clients import FixedClients
from tests.helpers.clock import Clock
from tests.helpers.google import google_client

NOW = dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC)
CONFIG = SyncConfig(ahead=dt.timedelta(days=14), margin=dt.timedelta(days=1))
# Push channels point nowhere: Google's `sync` message goes unanswered, which changes
# nothing here (the channel is stored from `events.watch`'s answer).
UNREACHABLE = "http://127.0.0.1:9"


@dataclasses.dataclass
class Statements:
    """SQL statements sent on an engine while counting."""

    sent: list[str] = dataclasses.field(default_factory=list)
    counting: bool = False

    def __call__(self, *args: object) -> None:
        if self.counting:
            self.sent.append(str(args[2]).split(None, 1)[0])


@dataclasses.dataclass(eq=False)
class Transactions:
    """Transactions begun on an engine while counting."""

    statements: Statements
    begun: int = 0

    def __call__(self, *args: object) -> None:
        if self.statements.counting:
            self.begun += 1


@pytest.fixture
def transactions(engine: AsyncEngine, statements: Statements) -> Iterator[Transactions]:
    counter = Transactions(statements)
    event.listen(engine.sync_engine, "begin", counter)
    yield counter
    event.remove(engine.sync_engine, "begin", counter)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[Statements]:
    counter = Statements()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
async def adapter(google: FakeGoogle) -> AsyncIterator[CalendarClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield google_client(google, http)


def context(
    sessionmaker: async_sessionmaker[AsyncSession],
    adapter: CalendarClient,
    config: SyncConfig = CONFIG,
    *,
    clock: Clock | None = None,
) -> tuple[SyncContext, Watches]:
    """The sync context as a worker wires it, push channels included."""
    clients = FixedClients(adapter, sessionmaker)
    clock = clock or Clock(NOW)
    watches = Watches(sessionmaker, clients, WatchConfig(public_base_url=UNREACHABLE), clock=clock)

    async def on_synced(connection_id: int) -> None:
        await watches.ensure(connection_id)

    ctx = SyncContext(
        sessionmaker=sessionmaker,
        clients=clients,
        config=config,
        on_synced=on_synced,
        clock=clock,
        worker="worker-cost",
    )
    return ctx, watches


async def connections(factory: Factory, google: FakeGoogle, count: int) -> list[int]:
    """`count` hosts, each with a Google connection whose primary is the fake's calendar."""
    ids = []
    for _ in range(count):
        connection, _ = await factory.connection(
            await factory.person(),
            provider=Provider.GOOGLE,
            account_email=google.email,
            primary=OWNED_PRIMARY,
            primary_remote_id=google.email,
            time_zone=TIME_ZONE,
        )
        ids.append(connection.id)
    return ids


async def test_a_sync_that_finds_no_change_costs_four_statements_in_three_transactions(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    google: FakeGoogle,
    adapter: CalendarClient,
    statements: Statements,
    transactions: Transactions,
) -> None:
    # Given: a connection synced once, its push channel open.
    ctx, _ = context(sessionmaker, adapter)
    [connection_id] = await connections(factory, google, 1)
    assert await sync_connection(ctx, connection_id) is Outcome.SYNCED
    assert len(google.calls("events.watch")) == 1
    listed = len(google.calls("events.list"))

    # When: it syncs again with nothing changed at Google.
    statements.counting = True
    assert await sync_connection(ctx, connection_id) is Outcome.SYNCED
    statements.counting = False

    # Then: one listing after the sync token, no new channel, and four statements in
    # three transactions: the claim (a sweep claims a batch in one); the calendars with
    # their cursors, whether each is an availability calendar and whether each has a live
    # push channel (with the credential, which these clients do not read); the new sync
    # token saved with the lease renewed, and the release, together. No push channel
    # check of its own: the calendars' read answered it.
    [incremental] = google.calls("events.list")[listed:]
    assert ("syncToken" in incremental.query, incremental.items) == (True, 0)
    assert len(google.calls("events.watch")) == 1
    assert statements.sent == ["UPDATE", "SELECT", "WITH", "UPDATE"]
    assert transactions.begun == 3


async def test_one_sweep_syncs_every_due_connection_a_batch_at_a_time(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    google: FakeGoogle,
    adapter: CalendarClient,
) -> None:
    # Given: five due connections and batches of two.
    config = dataclasses.replace(CONFIG, batch=2, concurrency=2)
    ctx, _ = context(sessionmaker, adapter, config)
    ids = await connections(factory, google, 5)

    # When / then: one sweep syncs all five (a single claim would take two), and the
    # next finds nothing due.
    assert await sweep_due_syncs(ctx) == [Outcome.SYNCED] * 5
    async with sessionmaker() as session:
        synced = [(await session.get_one(CalendarConnection, i)).last_synced_at for i in ids]
    assert synced == [NOW] * 5
    assert await sweep_due_syncs(ctx) == []
    assert await run_due_syncs(ctx) == []


async def test_a_sweep_ends_when_a_connection_is_due_again_at_once(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    google: FakeGoogle,
    adapter: CalendarClient,
) -> None:
    # Given: a provider failing every call, no backoff and a clock that stands still, so
    # a failed connection is due again the moment its run ends.
    config = dataclasses.replace(
        CONFIG, batch=1, concurrency=1, initial_backoff=dt.timedelta(0), max_attempts=100
    )
    ctx, _ = context(sessionmaker, adapter, config)
    await connections(factory, google, 1)
    google.fail("503", times=None)

    # When: a sweep runs.
    with anyio.fail_after(60):
        outcomes = await sweep_due_syncs(ctx)

    # Then: it ends, having run the connection at most twice.
    assert outcomes in ([Outcome.FAILED], [Outcome.FAILED, Outcome.FAILED])


async def _next_sync_at(
    sessionmaker: async_sessionmaker[AsyncSession], connection_id: int
) -> dt.datetime | None:
    async with sessionmaker() as session:
        return (await session.get_one(CalendarConnection, connection_id)).next_sync_at


async def test_a_sync_asked_for_while_a_run_holds_the_connection_is_due_after_the_run(
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    google: FakeGoogle,
    adapter: CalendarClient,
) -> None:
    ctx, _ = context(sessionmaker, adapter)
    [connection_id] = await connections(factory, google, 1)
    assert await sync_connection(ctx, connection_id) is Outcome.SYNCED

    # When: a run holds the connection and a push asks for a sync meanwhile (its job
    # finds the lease taken, or is merged into the running one), then the run ends.
    connection = await claim(ctx, connection_id)
    assert connection is not None
    async with sessionmaker.begin() as session:
        assert await request_sync(session, connection_id, NOW, on_demand=False)
    assert await run_claimed(ctx, connection) is Outcome.SYNCED

    # Then: the connection is still due, and the next sweep syncs it; a run nobody asked
    # about meanwhile schedules the next one an interval later.
    assert await _next_sync_at(sessionmaker, connection_id) == NOW
    assert await run_due_syncs(ctx) == [Outcome.SYNCED]
    assert await _next_sync_at(sessionmaker, connection_id) == NOW + CONFIG.interval
