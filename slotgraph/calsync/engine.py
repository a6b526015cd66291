"""Incremental sync of one calendar connection's busy time (issue #5 parts 2 and 5; C1, C2,
C4, S13).

For each calendar the connection checks (its primary calendar and the user's availability
calendars on it), the first run lists the synced window in full (every page); later runs ask
the provider only for changes since the saved cursor (Google syncToken, Graph delta link, EWS
sync state) through `CalendarClient.list_changes`. Each page is applied in one transaction
together with the cursor (or the next page token) it leads to, so a worker killed mid-sync
leaves the last committed page behind and its successor resumes from there: event rows are
keyed by (calendar, remote event id) and upserted, so a replayed page changes nothing.

What a run ends in, on the connection (C1 keeps `status` and the sync state apart):
- success: sync state SYNCED, `last_synced_at`, `events_synced` (events held for the
  connection's calendars), `next_sync_at` one interval later;
- `CursorExpired` (410 Gone, an invalid sync state): the calendar's synced events are
  dropped and its window listed again in full, in the same run;
- `CalendarGone` for one calendar: that calendar becomes ACCESS_LOST (C2) and the others sync
  on; booking with the user stops until it is removed (S13);
- `AccessRevoked`: the connection becomes ACCESS_LOST through `clients.access_lost` (S13) and
  is parked (no automatic retries) until reconnected;
- any other provider failure, after the adapter's own bounded retries: sync state ERROR
  with the provider's safe message, one more attempt counted and `next_sync_at` backed off
  exponentially (never sooner than the provider's Retry-After); after `max_attempts`
  failures in a row the connection is parked (`next_sync_at` NULL) with its error visible
  until someone asks for a sync (`request_sync`).

Concurrency: a run holds a lease on the connection (`sync_claimed_by`/`sync_claimed_until`),
taken in one UPDATE and renewed with every page. A second worker cannot claim a leased
connection; a killed worker's lease expires and the next claimer takes over. A worker whose
lease was taken over stops at its next page without writing (`LeaseLost`).

State changes (SYNCING on claim, then SYNCED or ERROR) are committed in their own
transactions so other processes see them; `on_state_change(connection_id)` is called after
each such commit and `on_busy_change(user_id)` once a run changed synced busy time: the
pub/sub integration plugs in there. `on_synced(connection_id)` follows each successful run:
push channels (`slotgraph.calsync.watches`) are opened there once a connection has synced.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from slotgraph.calendars.checked import checked_calendars
from slotgraph.calendars.clients import CalendarClients
from slotgraph.calendars.lost_access import mark_calendars_lost
from slotgraph.jobs.queue import enqueue
from slotgraph.models import (
    CalendarConnection,
    CalendarSyncCursor,
    RemoteCalendar,
    SyncedEvent,
)
from slotgraph.models.enums import ConnectionStatus, SyncState
from slotgraph.providers.base import (
    AccessRevoked,
    CalendarClient,
    CalendarGone,
    ChangeSet,
    CursorExpired,
    ProviderError,
    TransientError,
)
from slotgraph.providers.busy import busy_interval

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger("slotgraph.sync")

Hook = Callable[[int], Awaitable[None]]

# asyncpg takes at most 32,767 bind parameters per statement.
ROWS_PER_STATEMENT = 1_000
UNEXPECTED_MESSAGE = "The calendar sync failed unexpectedly; it will be retried."


async def no_hook(_: int) -> None:
    """The default hook: nothing to tell."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_worker_id() -> str:
    """Host, process and a random tag: unique per worker, readable in the table."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """How often and how far ahead to sync, and how to back off (from `Settings`)."""

    interval: dt.timedelta = dt.timedelta(minutes=5)
    # The synced span: from `past` before now to `ahead` after it, plus `margin` so the
    # span is listed afresh about once per margin rather than on every run.
    ahead: dt.timedelta = dt.timedelta(days=62)
    past: dt.timedelta = dt.timedelta(days=1)
    margin: dt.timedelta = dt.timedelta(days=7)
    lease: dt.timedelta = dt.timedelta(minutes=5)
    max_attempts: int = 5
    initial_backoff: dt.timedelta = dt.timedelta(seconds=30)
    max_backoff: dt.timedelta = dt.timedelta(minutes=30)
    concurrency: int = 4
    batch: int = 20
    poll_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class SyncContext:
    """Everything a sync run needs; one per worker process."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clients: CalendarClients
    config: SyncConfig = SyncConfig()
    on_state_change: Hook = no_hook
    on_busy_change: Hook = no_hook
    # Called with the connection id after each successful run: push channels are opened
    # (or reopened) there (`slotgraph.calsync.watches.Watches.ensure`).
    on_synced: Hook = no_hook
    clock: Callable[[], dt.datetime] = _utcnow
    worker: str = field(default_factory=default_worker_id)


class Outcome(enum.StrEnum):
    """How one run ended (for callers and logs; the connection row holds the details)."""

    SYNCED = "SYNCED"
    FAILED = "FAILED"
    PARKED = "PARKED"
    ACCESS_LOST = "ACCESS_LOST"
    LEASE_LOST = "LEASE_LOST"  # taken over by another worker, or disconnected meanwhile


class LeaseLost(Exception):
    """Another worker took over this connection (our lease expired): stop without writing."""


# -- claiming ----------------------------------------------------------------------------


def _claimable(now: dt.datetime) -> Any:
    return (CalendarConnection.status == ConnectionStatus.CONNECTED) & (
        CalendarConnection.sync_claimed_until.is_(None)
        | (CalendarConnection.sync_claimed_until < now)
    )


def _claim_values(ctx: SyncContext, now: dt.datetime) -> dict[str, Any]:
    return {
        "sync_claimed_by": ctx.worker,
        "sync_claimed_until": now + ctx.config.lease,
        "sync_state": SyncState.SYNCING,
    }


async def claim(ctx: SyncContext, connection_id: int) -> CalendarConnection | None:
    """Lease one connection for this worker, due or not (an explicit job); None when it is
    leased by another worker or not CONNECTED."""
    now = ctx.clock()
    async with ctx.sessionmaker.begin() as session:
        row = (
            await session.execute(
                update(CalendarConnection)
                .where(CalendarConnection.id == connection_id, _claimable(now))
                .values(**_claim_values(ctx, now))
                .returning(CalendarConnection)
            )
        ).scalar_one_or_none()
    if row is not None:
        await _call(ctx.on_state_change, connection_id)
    return row


async def claim_due(ctx: SyncContext, limit: int) -> list[CalendarConnection]:
    """Lease up to `limit` due connections, oldest due first. `FOR UPDATE SKIP LOCKED`
    lets several workers claim at once without waiting on or double-taking a row."""
    now = ctx.clock()
    due = (
        select(CalendarConnection.id)
        .where(_claimable(now), CalendarConnection.next_sync_at <= now)
        .order_by(CalendarConnection.next_sync_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    async with ctx.sessionmaker.begin() as session:
        rows = list(
            (
                await session.execute(
                    update(CalendarConnection)
                    .where(CalendarConnection.id.in_(select(due.c.id)))
                    .values(**_claim_values(ctx, now))
                    .returning(CalendarConnection)
                )
            ).scalars()
        )
    for row in rows:
        await _call(ctx.on_state_change, row.id)
    return rows


SYNC_JOB = "sync.connection"


async def request_sync(
    session: AsyncSession, connection_id: int, now: dt.datetime, *, on_demand: bool = True
) -> bool:
    """Make a connection due now and enqueue its sync job in the same transaction, so a
    worker starts at once rather than at its next sweep; whether it was.

    On demand (`syncCalendarConnection`) this also un-parks the connection and forgets past
    failures. A push notification (`on_demand=False`) does neither: a connection backing off
    after failures, or parked, keeps its schedule, so a provider in trouble is not asked
    again on every change it announces."""
    statement = update(CalendarConnection).where(CalendarConnection.id == connection_id)
    if on_demand:
        statement = statement.values(next_sync_at=now, sync_attempts=0)
    else:
        statement = statement.where(
            CalendarConnection.next_sync_at.is_not(None),
            CalendarConnection.sync_attempts == 0,
        ).values(next_sync_at=func.least(CalendarConnection.next_sync_at, now))
    changed = await session.execute(statement)
    if not changed.rowcount:  # type: ignore[attr-defined]
        return False
    await enqueue(session, SYNC_JOB, {"id": connection_id}, dedupe_key=f"sync:{connection_id}")
    return True


# -- running -----------------------------------------------------------------------------


async def sync_connection(ctx: SyncContext, connection_id: int) -> Outcome | None:
    """The job "sync connection N": claim it and run; None when another worker holds it.
    Idempotent: a repeated or concurrent job either finds the lease taken or resumes from
    the saved cursors, transferring only what changed since."""
    connection = await claim(ctx, connection_id)
    if connection is None:
        return None
    return await run_claimed(ctx, connection)


async def run_claimed(ctx: SyncContext, connection: CalendarConnection) -> Outcome:
    """Sync a connection this worker has leased, and record how it ended."""
    run = _Run(ctx, connection)
    try:
        outcome = await run.execute()
    finally:
        if run.busy_changed:
            await _call(ctx.on_busy_change, connection.user_id)
    if outcome is not Outcome.LEASE_LOST:
        await _call(ctx.on_state_change, connection.id)
    if outcome is Outcome.SYNCED:
        await _call(ctx.on_synced, connection.id)
    log.info("calendar sync", connection_id=connection.id, outcome=outcome.value)
    return outcome


class _Run:
    """One sync run of one leased connection."""

    def __init__(self, ctx: SyncContext, connection: CalendarConnection) -> None:
        self.ctx = ctx
        self.connection = connection
        self.busy_changed = False

    async def execute(self) -> Outcome:
        try:
            client = await self.ctx.clients.client(self.connection)
            for calendar in await self._calendars():
                try:
                    await self._sync_calendar(client, calendar)
                except CalendarGone as gone:
                    if gone.calendar_id != calendar.remote_id:
                        raise
                    await self._calendar_lost(calendar)
        except LeaseLost:
            log.warning("sync lease lost", connection_id=self.connection.id)
            return Outcome.LEASE_LOST
        except AccessRevoked as revoked:
            await self.ctx.clients.access_lost(self.connection.id)
            self.busy_changed = True  # booking with this user stops (S13)
            return await self._finish_access_lost(revoked.message)
        except ProviderError as error:
            return await self._finish_failure(error.message, _retry_after(error))
        except Exception:  # a bug must not stop the worker; the run is retried with backoff
            log.exception("calendar sync failed", connection_id=self.connection.id)
            return await self._finish_failure(UNEXPECTED_MESSAGE, None)
        return await self._finish_success()

    # calendars ---------------------------------------------------------------------------

    async def _calendars(self) -> list[RemoteCalendar]:
        """The calendars availability checks on this connection (primary + availability
        calendars, still reachable); synced data of the others is dropped."""
        async with self.ctx.sessionmaker.begin() as session:
            checked, others = await checked_calendars(session, self.connection)
            if others:
                await _forget(session, [row.id for row in others])
        return checked

    async def _calendar_lost(self, calendar: RemoteCalendar) -> None:
        """C2: the calendar was deleted or unshared at the provider."""
        async with self.ctx.sessionmaker.begin() as session:
            await self._renew(session)
            await mark_calendars_lost(session, [calendar.id])
            await _forget(session, [calendar.id])
        self.busy_changed = True

    async def _sync_calendar(self, client: CalendarClient, calendar: RemoteCalendar) -> None:
        state = await self._cursor(calendar)
        restarted = False
        while True:
            try:
                changes = await client.list_changes(
                    calendar.remote_id,
                    None if state.full_listing else state.cursor,
                    window_start=_aware(state.window_start),
                    window_end=_aware(state.window_end),
                    page=state.page_token,
                )
            except CursorExpired:
                if restarted:  # even a fresh full listing was refused
                    raise
                restarted = True
                state = await self._start_full_listing(calendar)
                continue
            state = await self._apply(calendar, state, changes)
            if state.page_token is None:
                return

    async def _cursor(self, calendar: RemoteCalendar) -> CalendarSyncCursor:
        """The calendar's saved position; a new full listing when there is none, or when
        the synced window no longer reaches as far ahead as it must."""
        async with self.ctx.sessionmaker() as session:
            state = await session.get(CalendarSyncCursor, calendar.id)
        now = self.ctx.clock()
        if state is None or (
            state.page_token is None
            and (
                state.cursor is None
                or state.window_start is None
                or state.window_end is None
                or state.window_end < now + self.ctx.config.ahead
            )
        ):
            return await self._start_full_listing(calendar)
        return state

    async def _start_full_listing(self, calendar: RemoteCalendar) -> CalendarSyncCursor:
        """Drop what was synced and start listing the window afresh; until the listing's
        last page is in, the calendar is not current (availability reads it live)."""
        now = self.ctx.clock()
        config = self.ctx.config
        values = {
            "cursor": None,
            "page_token": None,
            "full_listing": True,
            "window_start": now - config.past,
            "window_end": now + config.ahead + config.margin,
            "synced_at": None,
        }
        async with self.ctx.sessionmaker.begin() as session:
            await self._renew(session)
            self.busy_changed |= await _forget(session, [calendar.id], keep_cursor=True)
            statement = insert(CalendarSyncCursor).values(remote_calendar_id=calendar.id, **values)
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[CalendarSyncCursor.remote_calendar_id], set_=values
                )
            )
        return CalendarSyncCursor(remote_calendar_id=calendar.id, **values)

    async def _apply(
        self, calendar: RemoteCalendar, state: CalendarSyncCursor, changes: ChangeSet
    ) -> CalendarSyncCursor:
        """One page: events upserted and removed, and the position after it, in one
        transaction (the lease is renewed in it too, or the page is not applied)."""
        if changes.next_cursor is None and changes.next_page is None:
            raise ProviderError("The provider answered without a sync position; try again.")
        now = self.ctx.clock()
        async with self.ctx.sessionmaker.begin() as session:
            await self._renew(session)
            changed = await _upsert(session, calendar, changes, now)
            removed = await _remove(session, calendar.id, changes.removed)
            values: dict[str, Any]
            if changes.next_cursor is not None:  # the pass is complete: the calendar is current
                values = {
                    "cursor": changes.next_cursor,
                    "page_token": None,
                    "full_listing": False,
                    "synced_at": now,
                }
            else:
                values = {"page_token": changes.next_page}
            await session.execute(
                update(CalendarSyncCursor)
                .where(CalendarSyncCursor.remote_calendar_id == calendar.id)
                .values(**values)
            )
        self.busy_changed |= changed or removed
        for name, value in values.items():
            setattr(state, name, value)
        return state

    async def _renew(self, session: AsyncSession) -> None:
        """Extend our lease inside the caller's transaction, or stop if it is no longer ours."""
        renewed = await session.execute(
            update(CalendarConnection)
            .where(
                CalendarConnection.id == self.connection.id,
                CalendarConnection.sync_claimed_by == self.ctx.worker,
            )
            .values(sync_claimed_until=self.ctx.clock() + self.ctx.config.lease)
        )
        if not renewed.rowcount:  # type: ignore[attr-defined]
            raise LeaseLost

    # endings -----------------------------------------------------------------------------

    async def _finish(self, values: dict[str, Any]) -> bool:
        """Record the end of the run and release the lease, if the lease is still ours and
        the user did not disconnect meanwhile (disconnecting resets the sync state)."""
        async with self.ctx.sessionmaker.begin() as session:
            done = await session.execute(
                update(CalendarConnection)
                .where(
                    CalendarConnection.id == self.connection.id,
                    CalendarConnection.sync_claimed_by == self.ctx.worker,
                    CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                )
                .values(sync_claimed_by=None, sync_claimed_until=None, **values)
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def _finish_success(self) -> Outcome:
        now = self.ctx.clock()
        held = (
            select(func.count())
            .select_from(SyncedEvent)
            .join(RemoteCalendar, RemoteCalendar.id == SyncedEvent.remote_calendar_id)
            .where(RemoteCalendar.connection_id == self.connection.id)
            .scalar_subquery()
        )
        finished = await self._finish(
            {
                "sync_state": SyncState.SYNCED,
                "last_synced_at": now,
                "last_error": None,
                "sync_attempts": 0,
                "events_synced": held,
                "next_sync_at": now + self.ctx.config.interval,
            }
        )
        return Outcome.SYNCED if finished else Outcome.LEASE_LOST

    async def _finish_access_lost(self, message: str) -> Outcome:
        finished = await self._finish(
            {"sync_state": SyncState.ERROR, "last_error": message, "next_sync_at": None}
        )
        return Outcome.ACCESS_LOST if finished else Outcome.LEASE_LOST

    async def _finish_failure(self, message: str, retry_after: float | None) -> Outcome:
        config = self.ctx.config
        now = self.ctx.clock()
        attempts = self.connection.sync_attempts + 1
        parked = attempts >= config.max_attempts
        if parked:
            next_at = None
            shown = (
                f"{message} Automatic retries stopped after {attempts} failed attempts; "
                "run syncCalendarConnection to try again."
            )
        else:
            delay = min(config.max_backoff, config.initial_backoff * 2 ** (attempts - 1))
            if retry_after is not None:
                delay = max(delay, dt.timedelta(seconds=retry_after))
            next_at = now + delay
            shown = f"{message} The sync will be retried automatically."
        finished = await self._finish(
            {
                "sync_state": SyncState.ERROR,
                "last_error": shown,
                "sync_attempts": attempts,
                "next_sync_at": next_at,
            }
        )
        if not finished:
            return Outcome.LEASE_LOST
        return Outcome.PARKED if parked else Outcome.FAILED


# -- table helpers -----------------------------------------------------------------------


async def _upsert(
    session: AsyncSession, calendar: RemoteCalendar, changes: ChangeSet, now: dt.datetime
) -> bool:
    """Upsert changed events' busy spans (C4, in the calendar's zone); True when any busy
    span appeared, moved or vanished."""
    rows = []
    for event in changes.changed:
        span = busy_interval(event, calendar.time_zone)
        rows.append(
            {
                "remote_calendar_id": calendar.id,
                "remote_event_id": event.remote_id,
                "busy_start": span.start if span else None,
                "busy_end": span.end if span else None,
                "synced_at": now,
            }
        )
    changed = False
    for chunk in _chunks(rows):
        statement = insert(SyncedEvent).values(chunk)
        excluded = statement.excluded
        written = await session.execute(
            statement.on_conflict_do_update(
                index_elements=[SyncedEvent.remote_calendar_id, SyncedEvent.remote_event_id],
                set_={
                    "busy_start": excluded.busy_start,
                    "busy_end": excluded.busy_end,
                    "synced_at": excluded.synced_at,
                },
                # A replayed page rewrites nothing; only real changes count as busy changes.
                where=(SyncedEvent.busy_start.is_distinct_from(excluded.busy_start))
                | (SyncedEvent.busy_end.is_distinct_from(excluded.busy_end)),
            ).returning(SyncedEvent.remote_event_id)
        )
        changed |= written.first() is not None
    return changed


async def _remove(session: AsyncSession, calendar_id: int, event_ids: Sequence[str]) -> bool:
    """Delete removed events; True when any of them was busy."""
    removed = False
    for chunk in _chunks(list(event_ids)):
        gone = await session.execute(
            delete(SyncedEvent)
            .where(
                SyncedEvent.remote_calendar_id == calendar_id,
                SyncedEvent.remote_event_id.in_(chunk),
            )
            .returning(SyncedEvent.busy_start)
        )
        removed |= any(start is not None for start in gone.scalars())
    return removed


async def _forget(
    session: AsyncSession, calendar_ids: Sequence[int], *, keep_cursor: bool = False
) -> bool:
    """Drop the synced events (and, unless kept, the cursors) of these calendars; True
    when busy time was among them."""
    gone = await session.execute(
        delete(SyncedEvent)
        .where(SyncedEvent.remote_calendar_id.in_(calendar_ids))
        .returning(SyncedEvent.busy_start)
    )
    had_busy = any(start is not None for start in gone.scalars())
    if not keep_cursor:
        await session.execute(
            delete(CalendarSyncCursor).where(
                CalendarSyncCursor.remote_calendar_id.in_(calendar_ids)
            )
        )
    return had_busy


def _chunks(rows: list[Any]) -> list[list[Any]]:
    return [rows[i : i + ROWS_PER_STATEMENT] for i in range(0, len(rows), ROWS_PER_STATEMENT)]


def _aware(value: dt.datetime | None) -> dt.datetime:
    assert value is not None, "a cursor row always has its window"
    return value.astimezone(dt.UTC)


def _retry_after(error: ProviderError) -> float | None:
    return error.retry_after if isinstance(error, TransientError) else None


async def _call(hook: Hook, value: int) -> None:
    """Hooks notify others; their failure must not undo or stop a committed sync."""
    try:
        await hook(value)
    except Exception:  # whatever a subscriber's transport raises
        log.exception("sync hook failed", value=value)
