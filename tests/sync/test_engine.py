"""The sync engine (C1, C2, C4, S13) on real PostgreSQL, with the
Exchange adapter talking SOAP to the protocol-level EWS fake. What the engine transferred is
read off the fake's request log; what it stored is compared with the fake's own free/busy
answer (GetUserAvailability, computed by the fake independently of the sync path)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from exchangelib.protocol import close_connections
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars.synced_busy import synced_busy
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import request_sync
from slotgraph.calsync.engine import run_claimed
from slotgraph.calsync.engine import sync_connection
from slotgraph.calsync.leases import claim
from slotgraph.calsync.scheduler import run_due_syncs
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSyncCursor
from slotgraph.models import RemoteCalendar
from slotgraph.models import SyncedEvent
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import SyncState
from slotgraph.providers.exchange import ExchangeCalendarClient
from slotgraph.providers.exchange import ExchangeCredentials
from slotgraph.providers.retry import FAST
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import TIME_ZONE
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import merged
from tests.fakes.scenario import utc
from tests.helpers import kill_worker
from tests.helpers.accounts import Factory
from tests.helpers.clients import FixedClients
from tests.helpers.clock import Clock

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC)
SPAN = (utc(4, 0), utc(12, 0))  # the scenario week
SUB_CALENDAR = "AAMkFolder-team-offsite"
CONFIG = SyncConfig(
    interval=dt.timedelta(minutes=5),
    ahead=dt.timedelta(days=30),
    margin=dt.timedelta(days=7),
    lease=dt.timedelta(minutes=2),
    max_attempts=3,
    initial_backoff=dt.timedelta(seconds=30),
)


@dataclasses.dataclass
class Host:
    connection: CalendarConnection
    primary: RemoteCalendar
    sub: RemoteCalendar


@dataclasses.dataclass
class Recorder:
    """What the hooks were told, in order."""

    states: list[int] = dataclasses.field(default_factory=list)
    busy: list[int] = dataclasses.field(default_factory=list)

    async def state(self, connection_id: int) -> None:
        self.states.append(connection_id)

    async def busy_changed(self, user_id: int) -> None:
        self.busy.append(user_id)


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange() as server:
        yield server
    close_connections()


@pytest.fixture
async def limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(4)


def exchange_client(
    fake: FakeExchange, limiter: anyio.CapacityLimiter, *, timeout: float = 2.0
) -> ExchangeCalendarClient:
    return ExchangeCalendarClient(
        ExchangeCredentials(fake.email, PASSWORD),
        ews_url=fake.url,
        version="Exchange2016",
        limiter=limiter,
        timeout=timeout,
        time_zone=TIME_ZONE,
        retry=FAST,
    )


@pytest.fixture
async def host(factory: Factory) -> Host:
    return await make_host(factory)


async def make_host(factory: Factory) -> Host:
    """An Exchange connection whose primary calendar and "Team offsite" sub-calendar (an
    availability calendar, S12) live on the fake."""
    person = await factory.person()
    connection = CalendarConnection(
        account_id=person.account.id,
        user_id=person.user.id,
        provider=Provider.EXCHANGE,
        account_email="alice@example.test",
        purpose=ConnectionPurpose.BOTH,
        status=ConnectionStatus.CONNECTED,
        sync_state=SyncState.IDLE,
        calendar_sync_enabled=False,
        task_sync_enabled=False,
        scheduling_pages_enabled=True,
        events_synced=0,
    )
    await factory.add(connection)
    primary, sub = (
        RemoteCalendar(
            account_id=person.account.id,
            connection_id=connection.id,
            remote_id=remote_id,
            name=name,
            time_zone=TIME_ZONE,
            access=CalendarAccess.OWNER,
            is_primary=remote_id != SUB_CALENDAR,
        )
        for remote_id, name in (("alice@example.test", "Calendar"), (SUB_CALENDAR, "Offsite"))
    )
    await factory.add(primary, sub)
    await factory.add(
        AvailabilityCalendar(
            account_id=person.account.id, user_id=person.user.id, remote_calendar_id=sub.id
        )
    )
    return Host(connection, primary, sub)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def ctx(
    sessionmaker: async_sessionmaker[AsyncSession],
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
    recorder: Recorder,
) -> SyncContext:
    return SyncContext(
        sessionmaker=sessionmaker,
        clients=FixedClients(exchange_client(fake, limiter), sessionmaker),
        config=CONFIG,
        on_state_change=recorder.state,
        on_busy_change=recorder.busy_changed,
        clock=clock,
        worker="worker-a",
    )


async def reload(sessionmaker: async_sessionmaker[AsyncSession], row: Any) -> Any:
    async with sessionmaker() as session:
        return await session.get(type(row), row.id)


async def stored_busy(
    sessionmaker: async_sessionmaker[AsyncSession], calendar: RemoteCalendar, clock: Clock
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    async with sessionmaker() as session:
        answer = await synced_busy(
            session, [calendar.id], *SPAN, now=clock(), freshness=dt.timedelta(hours=1)
        )
    spans = answer[calendar.id]
    return None if spans is None else merged([(s.start, s.end) for s in spans])


async def live_busy(
    fake: FakeExchange, limiter: anyio.CapacityLimiter
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The fake's own free/busy answer for the primary calendar: the oracle."""
    answer = await exchange_client(fake, limiter).free_busy([fake.email], *SPAN)
    return merged([(s.start, s.end) for s in answer.busy[fake.email]])


def since(fake: FakeExchange, mark: int) -> list[tuple[str, int | None]]:
    """(operation, items answered) of the requests after the first `mark`."""
    return [(r.operation, r.items) for r in fake.requests[mark:] if r.status == 200]


async def test_first_run_lists_the_window_then_later_runs_fetch_only_changes(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
    recorder: Recorder,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await stored_busy(sessionmaker, host.primary, clock) is None  # never synced

    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    assert await stored_busy(sessionmaker, host.primary, clock) == list(EXPECTED_BUSY)
    assert await stored_busy(sessionmaker, host.sub, clock) == []
    row = await reload(sessionmaker, host.connection)
    async with sessionmaker() as session:
        held = await session.scalar(select(func.count()).select_from(SyncedEvent))
    assert held == 16  # 12 single items and the 1:1's 4 occurrences (one was cancelled)
    assert (
        row.sync_state,
        row.status,
        row.last_synced_at,
        row.last_error,
        row.events_synced,
        row.next_sync_at,
        row.sync_claimed_by,
        row.sync_attempts,
    ) == (
        SyncState.SYNCED,
        ConnectionStatus.CONNECTED,
        NOW,
        None,
        held,
        NOW + CONFIG.interval,
        None,
        0,
    )
    # SYNCING after the claim, then SYNCED: each in its own commit, each announced.
    assert recorder.states == [host.connection.id, host.connection.id]
    assert recorder.busy == [host.connection.user_id]

    fake.add_event(ScriptedEvent("new", "New meeting", utc(9, 15), utc(9, 16)))
    fake.move_event(fake.item_id("standup"), utc(4, 15), utc(4, 15, 30))
    fake.remove_event(fake.item_id("invite"))
    mark = len(fake.requests)
    clock.advance(CONFIG.interval)

    assert await run_due_syncs(ctx) == [Outcome.SYNCED]

    # One SyncFolderItems per calendar, carrying the three changes and nothing else.
    assert since(fake, mark) == [("SyncFolderItems", 3), ("SyncFolderItems", 0)]
    assert await stored_busy(sessionmaker, host.primary, clock) == await live_busy(fake, limiter)
    assert (await reload(sessionmaker, host.connection)).events_synced == held


async def test_ten_changes_in_a_ten_thousand_event_calendar_transfer_only_the_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
    limiter: anyio.CapacityLimiter,
    host: Host,
    clock: Clock,
) -> None:
    start = utc(4, 0)
    events = [
        ScriptedEvent(
            f"e{n}",
            "Busy",
            start + dt.timedelta(minutes=15 * n),
            start + dt.timedelta(minutes=15 * n + 10),
        )
        for n in range(10_000)
    ]
    with FakeExchange(events=events) as big:
        ctx = SyncContext(
            sessionmaker=sessionmaker,
            clients=FixedClients(exchange_client(big, limiter, timeout=30.0), sessionmaker),
            config=dataclasses.replace(CONFIG, ahead=dt.timedelta(days=120)),
            clock=clock,
            worker="worker-a",
        )
        assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
        full = since(big, 0)
        assert ("FindItem", 10_000) in full  # the first run listed the whole window

        for n in range(4):
            moved = start + dt.timedelta(minutes=15 * n + 5)
            big.move_event(big.item_id(f"e{n}"), moved, moved + dt.timedelta(minutes=5))
        for n in range(3):
            big.remove_event(big.item_id(f"e{100 + n}"))
        for n in range(3):
            at = utc(4, 0) - dt.timedelta(hours=n + 1)
            big.add_event(ScriptedEvent(f"new{n}", "New", at, at + dt.timedelta(minutes=30)))
        mark = len(big.requests)
        clock.advance(CONFIG.interval)

        assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

        assert since(big, mark) == [("SyncFolderItems", 10), ("SyncFolderItems", 0)]
        async with sessionmaker() as session:
            held = await session.scalar(select(func.count()).select_from(SyncedEvent))
            moved_row = await session.get(SyncedEvent, (host.primary.id, big.item_id("e1")))
        assert held == 10_000
        assert moved_row is not None
        assert (moved_row.busy_start, moved_row.busy_end) == (
            start + dt.timedelta(minutes=20),
            start + dt.timedelta(minutes=25),
        )
        assert (await reload(sessionmaker, host.connection)).events_synced == 10_000
    close_connections()


async def test_expired_sync_state_drops_the_calendar_and_lists_it_again(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    fake.expire_sync_states()  # what Exchange does after a mailbox move
    fake.remove_event(fake.item_id("standup"))
    fake.touch(fake.item_id("one-on-one"))  # a changed series also asks for a full listing
    mark = len(fake.requests)
    clock.advance(CONFIG.interval)

    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    operations = [operation for operation, _ in since(fake, mark)]
    assert operations.count("FindItem") == 2  # both calendars listed afresh
    assert await stored_busy(sessionmaker, host.primary, clock) == await live_busy(fake, limiter)
    assert (utc(4, 14), utc(4, 14, 30)) not in (
        await stored_busy(sessionmaker, host.primary, clock) or []
    )


async def test_revoked_password_marks_the_connection_access_lost_and_parks_it(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    recorder: Recorder,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake.password = "changed at the server"

    assert await sync_connection(ctx, host.connection.id) is Outcome.ACCESS_LOST

    row = await reload(sessionmaker, host.connection)
    assert (row.status, row.sync_state, row.next_sync_at, row.sync_claimed_by) == (
        ConnectionStatus.ACCESS_LOST,
        SyncState.ERROR,
        None,
        None,
    )
    assert row.last_error == (
        "Exchange no longer accepts the stored password; reconnect the calendar. "
        "Accounts with two-factor authentication need an app password."
    )
    assert PASSWORD not in row.last_error
    assert recorder.busy == [host.connection.user_id]  # booking with this host stops (S13)
    assert await claim(ctx, host.connection.id) is None  # no sync without a grant


async def test_deleted_availability_calendar_is_marked_access_lost_and_the_rest_syncs(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    del fake.folders[SUB_CALENDAR]

    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    assert (await reload(sessionmaker, host.sub)).status is CalendarStatus.ACCESS_LOST
    assert (await reload(sessionmaker, host.connection)).status is ConnectionStatus.CONNECTED
    assert await stored_busy(sessionmaker, host.primary, clock) == list(EXPECTED_BUSY)
    assert await stored_busy(sessionmaker, host.sub, clock) is None


async def test_a_lost_calendar_that_answers_again_is_connected_again_and_synced(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    clock: Clock,
    recorder: Recorder,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    folder = fake.folders[SUB_CALENDAR]
    fake.remove_calendar(SUB_CALENDAR)
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    assert (await reload(sessionmaker, host.sub)).status is CalendarStatus.ACCESS_LOST

    # Shared again at the provider: the next run reads it, and the loss ends (C27).
    fake.folders[SUB_CALENDAR] = folder
    fake.add_event(
        ScriptedEvent("offsite-1", "Offsite prep", utc(6, 15), utc(6, 16)), folder_id=SUB_CALENDAR
    )
    recorder.busy.clear()
    clock.advance(CONFIG.interval)
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    assert (await reload(sessionmaker, host.sub)).status is CalendarStatus.CONNECTED
    assert await stored_busy(sessionmaker, host.sub, clock) == [(utc(6, 15), utc(6, 16))]
    assert recorder.busy == [host.connection.user_id]  # the host's pages hear of it


async def test_an_item_the_adapter_cannot_read_is_skipped_counted_and_the_rest_synced(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    broken = fake.add_event(ScriptedEvent("broken", "Broken", utc(9, 15), utc(9, 16)))
    fake.unreadable.add(broken.id)

    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.skipped_items) == (SyncState.SYNCED, 1)
    assert await stored_busy(sessionmaker, host.primary, clock) == list(EXPECTED_BUSY)


async def test_throttling_backs_off_honouring_retry_after_then_parks_after_max_attempts(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Exchange asks for a minute: longer than the adapter waits, so the run fails at once.
    fake.fail("busy", times=None, back_off_ms=60_000)
    assert await sync_connection(ctx, host.connection.id) is Outcome.FAILED
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_attempts, row.next_sync_at, row.sync_claimed_by) == (
        SyncState.ERROR,
        1,
        NOW + dt.timedelta(seconds=60),  # Retry-After, more than the 30 s first backoff
        None,
    )
    assert row.last_error == (
        "Exchange is busy and asked to slow down. The sync will be retried automatically."
    )
    assert await run_due_syncs(ctx) == []  # not due before the backoff ends

    fake.clear_faults()
    fake.fail("http503", times=None)  # a 503 burst longer than the adapter's retries
    clock.now = row.next_sync_at
    assert await run_due_syncs(ctx) == [Outcome.FAILED]
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_attempts, row.next_sync_at) == (2, clock() + dt.timedelta(seconds=60))

    clock.now = row.next_sync_at
    assert await run_due_syncs(ctx) == [Outcome.PARKED]
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_attempts, row.next_sync_at) == (SyncState.ERROR, 3, None)
    assert row.last_error == (
        "Exchange had a temporary problem (HTTP 503); try again later. Automatic retries "
        "stopped after 3 failed attempts; run syncCalendarConnection to try again."
    )
    clock.advance(dt.timedelta(days=1))
    assert await run_due_syncs(ctx) == []  # parked: no further automatic tries

    fake.clear_faults()
    async with sessionmaker.begin() as session:
        await request_sync(session, host.connection.id, clock())
    assert await run_due_syncs(ctx) == [Outcome.SYNCED]
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_attempts, row.last_error) == (SyncState.SYNCED, 0, None)


async def test_short_503_burst_and_timeouts_are_absorbed_or_recorded(
    sessionmaker: async_sessionmaker[AsyncSession],
    host: Host,
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
) -> None:
    clients = FixedClients(exchange_client(fake, limiter, timeout=0.3), sessionmaker)
    ctx = SyncContext(sessionmaker, clients, config=CONFIG, clock=clock, worker="worker-a")
    fake.fail("http503", times=2)  # shorter than the adapter's three attempts
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    fake.fail("slow", times=None, delay=2.0)
    clock.advance(CONFIG.interval)
    assert await sync_connection(ctx, host.connection.id) is Outcome.FAILED
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_attempts) == (SyncState.ERROR, 1)
    assert row.last_error == (
        "Exchange could not be reached; try again later. The sync will be retried automatically."
    )
    # The earlier synced busy time is kept, not lost, while the provider is failing.
    assert await stored_busy(sessionmaker, host.primary, clock) == list(EXPECTED_BUSY)


async def test_a_leased_connection_is_not_claimed_twice_and_an_expired_lease_is_taken_over(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    other = dataclasses.replace(ctx, worker="worker-b")
    claimed = await claim(ctx, host.connection.id)
    assert claimed is not None
    assert (await reload(sessionmaker, host.connection)).sync_state is SyncState.SYNCING

    assert await claim(other, host.connection.id) is None
    assert await run_due_syncs(other) == []
    assert await sync_connection(other, host.connection.id) is None

    clock.advance(CONFIG.lease + dt.timedelta(seconds=1))  # worker A died holding it
    assert await run_due_syncs(other) == [Outcome.SYNCED]
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_claimed_by) == (SyncState.SYNCED, None)

    # Worker A wakes up late: its lease is gone, so it writes nothing.
    fake.remove_event(fake.item_id("standup"))
    assert await run_claimed(ctx, claimed) is Outcome.LEASE_LOST
    assert await stored_busy(sessionmaker, host.primary, clock) == list(EXPECTED_BUSY)
    assert (await reload(sessionmaker, host.connection)).last_synced_at == NOW + CONFIG.lease + (
        dt.timedelta(seconds=1)
    )


async def test_a_sweep_claims_due_connections_up_to_its_limit_and_syncs_them(
    ctx: SyncContext, host: Host, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    second = await make_host(factory)
    tight = dataclasses.replace(ctx, config=dataclasses.replace(CONFIG, concurrency=1))

    assert await run_due_syncs(tight, limit=1) == [Outcome.SYNCED]
    assert await run_due_syncs(tight) == [Outcome.SYNCED]
    assert await run_due_syncs(tight) == []

    for row in (host.connection, second.connection):
        assert (await reload(sessionmaker, row)).sync_state is SyncState.SYNCED


async def test_the_window_is_listed_afresh_once_it_no_longer_reaches_far_enough_ahead(
    ctx: SyncContext, host: Host, fake: FakeExchange, clock: Clock
) -> None:
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    clock.advance(CONFIG.margin - dt.timedelta(hours=1))
    mark = len(fake.requests)
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    assert [op for op, _ in since(fake, mark)] == ["SyncFolderItems", "SyncFolderItems"]

    clock.advance(dt.timedelta(hours=2))  # the synced window now ends too soon
    mark = len(fake.requests)
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    assert [op for op, _ in since(fake, mark)].count("FindItem") == 2


async def test_a_calendar_no_longer_checked_is_forgotten(
    ctx: SyncContext, host: Host, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    async with sessionmaker.begin() as session:
        await session.execute(delete(AvailabilityCalendar))  # the user's "X" (S13)

    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED

    async with sessionmaker() as session:
        cursors = set(
            (await session.execute(select(CalendarSyncCursor.remote_calendar_id))).scalars()
        )
    assert cursors == {host.primary.id}


async def test_a_connection_disconnected_during_its_sync_stays_disconnected(
    ctx: SyncContext, host: Host, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    claimed = await claim(ctx, host.connection.id)
    assert claimed is not None
    async with sessionmaker.begin() as session:
        await session.execute(
            update(CalendarConnection).values(
                status=ConnectionStatus.DISCONNECTED, sync_state=SyncState.IDLE
            )
        )

    assert await run_claimed(ctx, claimed) is Outcome.LEASE_LOST

    row = await reload(sessionmaker, host.connection)
    assert (row.status, row.sync_state) == (ConnectionStatus.DISCONNECTED, SyncState.IDLE)


async def test_only_current_syncs_answer_busy_time(
    ctx: SyncContext,
    host: Host,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    async with sessionmaker() as session:
        fresh = await synced_busy(
            session, [host.primary.id], *SPAN, now=clock(), freshness=dt.timedelta(minutes=10)
        )
        stale = await synced_busy(
            session,
            [host.primary.id],
            *SPAN,
            now=clock() + dt.timedelta(minutes=11),
            freshness=dt.timedelta(minutes=10),
        )
        beyond = await synced_busy(
            session,
            [host.primary.id],
            clock(),
            clock() + dt.timedelta(days=60),
            now=clock(),
            freshness=dt.timedelta(minutes=10),
        )
    assert fresh[host.primary.id] is not None
    assert (stale, beyond) == ({host.primary.id: None}, {host.primary.id: None})


async def test_a_sigkilled_worker_process_is_resumed_by_the_next_and_the_result_is_right(
    ctx: SyncContext,
    host: Host,
    fake: FakeExchange,
    limiter: anyio.CapacityLimiter,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    """A real worker process is SIGKILLed mid-sync: after committing its first incremental
    page, while the provider is still answering the second. Its lease and SYNCING state stay
    behind; once the lease expires the next worker resumes from the committed page."""
    assert await sync_connection(ctx, host.connection.id) is Outcome.SYNCED
    for day in (9, 10, 11):
        fake.add_event(ScriptedEvent(f"extra-{day}", "Extra", utc(day, 18), utc(day, 19)))
    fake.remove_event(fake.item_id("private"))
    fake.move_event(fake.item_id("maybe"), utc(8, 18), utc(8, 19))
    fake.fail("slow", operation="SyncFolderItems", after=1, times=1, delay=20.0)
    clock.advance(CONFIG.interval)
    command = [
        sys.executable,
        "-m",
        "tests.helpers.kill_worker",
        database_url,
        fake.url,
        fake.email,
        str(host.connection.id),
        clock().isoformat(),
    ]
    process = await anyio.open_process(command, cwd=ROOT)
    try:
        for _ in range(1_200):  # until the worker committed its first page (at most 60 s)
            if await page_token(sessionmaker, host.primary) is not None:
                break
            await anyio.sleep(0.05)
        else:
            raise AssertionError("the worker process never committed a page")
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await process.aclose()
    assert process.returncode == -signal.SIGKILL
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_claimed_by) == (SyncState.SYNCING, "doomed-worker")

    clock.advance(kill_worker.LEASE + dt.timedelta(seconds=1))
    assert await run_due_syncs(dataclasses.replace(ctx, worker="worker-b")) == [Outcome.SYNCED]

    assert await stored_busy(sessionmaker, host.primary, clock) == await live_busy(fake, limiter)
    row = await reload(sessionmaker, host.connection)
    assert (row.sync_state, row.sync_claimed_by) == (SyncState.SYNCED, None)


async def page_token(
    sessionmaker: async_sessionmaker[AsyncSession], calendar: RemoteCalendar
) -> str | None:
    async with sessionmaker() as session:
        state = await session.get(CalendarSyncCursor, calendar.id)
    return None if state is None else state.page_token
