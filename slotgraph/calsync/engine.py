"""Incremental sync of one calendar connection's busy time (C1, C2, C4, S13).

For each calendar the connection checks (`slotgraph.calendars.checked`: its primary calendar
and the user's availability calendars on it), the first run lists the synced window in full
(every page); later runs ask the provider only for changes since the saved cursor (Google
syncToken, Graph delta link, EWS sync state) through `CalendarClient.list_changes`. Each
page is applied in one transaction together with the cursor (or the next page token) it
leads to, so a worker killed mid-sync leaves the last committed page behind and its
successor resumes from there (`slotgraph.calsync.synced_events`: a replayed page changes
nothing).

Within a run:
- `CursorExpired` (410 Gone, an invalid sync state): the calendar's synced events are
  dropped and its window listed again in full, in the same run;
- `CalendarGone` for one calendar: that calendar becomes ACCESS_LOST (C2) and the others sync
  on; booking with the user stops until it is removed (S13) or access comes back: a lost
  calendar is still listed on every run, and one that lists in full is CONNECTED again (C27);
- `AccessRevoked`: the connection becomes ACCESS_LOST through `clients.access_lost` (S13);
- an item the adapter cannot read is skipped by the adapter (`ChangeSet.skipped`) and
  counted on the connection (`skipped_items`) with the page it came in;
- how the run ends, and the backoff after a failure, is `slotgraph.calsync.endings`.

Concurrency: a run holds a lease on the connection (`slotgraph.calsync.leases`), renewed
with every page; a worker whose lease was taken over stops without writing.

State changes (SYNCING on claim, then SYNCED or ERROR) are committed in their own
transactions so other processes see them; `on_state_change(connection_id)` is called after
each such commit and `on_busy_change(user_id)` once a run changed synced busy time: the
pub/sub integration plugs in there. `on_synced(connection_id)` follows a successful run in
which a checked calendar had no live push channel (the run's first read says so, so a run
that needs none costs no query): channels (`slotgraph.calsync.watches`) are opened there.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from typing import Any

import structlog
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from slotgraph.calendars.checked import chosen_column
from slotgraph.calendars.checked import partition
from slotgraph.calendars.lost_access import mark_access_regained
from slotgraph.calendars.lost_access import mark_calendars_lost
from slotgraph.calendars.lost_access import mark_calendars_regained
from slotgraph.calsync import endings
from slotgraph.calsync import synced_events
from slotgraph.calsync.context import LeaseLost
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.context import call_hook
from slotgraph.calsync.leases import claim
from slotgraph.calsync.leases import renew
from slotgraph.calsync.leases import renewal
from slotgraph.calsync.watches import live_watch
from slotgraph.calsync.watches import wants_watches
from slotgraph.jobs.queue import enqueue
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSyncCursor
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import ConnectionStatus
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import ChangeSet
from slotgraph.providers.base import CursorExpired
from slotgraph.providers.base import Interval
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TransientError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("slotgraph.sync")

UNEXPECTED_MESSAGE = "The calendar sync failed unexpectedly; it will be retried."

SYNC_JOB = "sync.connection"


async def request_sync(
    session: AsyncSession, connection_id: int, now: dt.datetime, *, on_demand: bool = True
) -> bool:
    """Make a connection due now and enqueue its sync job in the same transaction, so a
    worker starts at once rather than at its next sweep; whether it was.

    Either way the connection is marked asked (`sync_asked`): when a run holds it, this
    job is merged into the running one by its dedupe key or finds the lease taken, and the
    change may postdate that run's listing, so the run's end keeps it due (the next sweep
    syncs it) instead of scheduling it an interval later.

    On demand (`syncCalendarConnection`) this also un-parks the connection and forgets past
    failures. A push notification (`on_demand=False`) does neither: a connection backing off
    after failures, or parked, keeps its schedule, so a provider in trouble is not asked
    again on every change it announces."""
    statement = (
        update(CalendarConnection)
        .where(CalendarConnection.id == connection_id)
        .values(sync_asked=True)  # a run holding it now ends with it still due (`endings`)
    )
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
            await call_hook(ctx.on_busy_change, connection.user_id)
    if outcome is not Outcome.LEASE_LOST:
        await call_hook(ctx.on_state_change, connection.id)
    if outcome is Outcome.SYNCED and run.unwatched:
        await call_hook(ctx.on_synced, connection.id)
    log.info("calendar sync", connection_id=connection.id, outcome=outcome.value)
    return outcome


class _Run:
    """One sync run of one leased connection."""

    def __init__(self, ctx: SyncContext, connection: CalendarConnection) -> None:
        self.ctx = ctx
        self.connection = connection
        self.busy_changed = False
        # Whether any synced event row was written or dropped: only then is the
        # connection's `events_synced` counted again (`endings.synced`).
        self.rows_changed = False
        # Each calendar's saved position, read with the calendars at the start of the run.
        self.cursors: dict[int, CalendarSyncCursor] = {}
        # Whether a checked calendar had no live push channel when the run began.
        self.unwatched = False
        # The calendar whose last page may end the run in its own transaction (`_start`),
        # and how the run ended when that page did.
        self.last_calendar: int | None = None
        self.ended: Outcome | None = None

    async def execute(self) -> Outcome:
        try:
            client, checked, lost = await self._start()
            for calendar in checked:
                try:
                    await self._sync_calendar(client, calendar)
                except CalendarGone as gone:
                    if gone.calendar_id != calendar.remote_id:
                        raise
                    await self._calendar_lost(calendar)
            for calendar in lost:  # C27: read again; a success ends the loss
                try:
                    await self._sync_calendar(client, calendar)
                except CalendarGone as gone:
                    if gone.calendar_id != calendar.remote_id:
                        raise
                    continue
                await self._calendar_regained(calendar)
            if self.connection.status is ConnectionStatus.ACCESS_LOST:  # re-probed, C44
                await self._access_regained()
        except LeaseLost:
            log.warning("sync lease lost", connection_id=self.connection.id)
            return Outcome.LEASE_LOST
        except AccessRevoked as revoked:
            await self.ctx.clients.access_lost(self.connection.id)
            self.busy_changed = True  # booking with this user stops (S13)
            return await endings.access_lost(self.ctx, self.connection, revoked.message)
        except ProviderError as error:
            return await endings.failed(
                self.ctx, self.connection, error.message, _retry_after(error)
            )
        except Exception:  # a bug must not stop the worker; the run is retried with backoff
            log.exception("calendar sync failed", connection_id=self.connection.id)
            return await endings.failed(self.ctx, self.connection, UNEXPECTED_MESSAGE, None)
        if self.ended is not None:
            return self.ended
        return await endings.synced(self.ctx, self.connection, recount=self.rows_changed)

    # calendars ---------------------------------------------------------------------------

    async def _start(self) -> tuple[CalendarClient, list[RemoteCalendar], list[RemoteCalendar]]:
        """The connection's client, the calendars availability checks on it (primary +
        availability calendars, still reachable), and the checked ones marked lost (read
        again, C27); synced data of the others is dropped. One transaction: the credential,
        the calendars with their cursors and whether each has a live push channel (a
        no-change sync must cost few round trips: bench/sync_capacity.py)."""
        async with self.ctx.sessionmaker.begin() as session:
            client = await self.ctx.clients.client(self.connection, session)
            watched = live_watch(self.connection.id, self.ctx.clock()).label("watched")
            chosen = chosen_column(self.connection.user_id).label("chosen")
            rows = (
                await session.execute(
                    select(RemoteCalendar, CalendarSyncCursor, watched, chosen)
                    .outerjoin(
                        CalendarSyncCursor,
                        CalendarSyncCursor.remote_calendar_id == RemoteCalendar.id,
                    )
                    .where(RemoteCalendar.connection_id == self.connection.id)
                    .order_by(RemoteCalendar.id)
                )
            ).all()
            split = partition(
                [row.RemoteCalendar for row in rows],
                {row.RemoteCalendar.id for row in rows if row.chosen},
            )
            if split.others:
                self.rows_changed = True
                await synced_events.forget(session, [row.id for row in split.others])
        self.cursors = {
            row.RemoteCalendar.id: row.CalendarSyncCursor
            for row in rows
            if row.CalendarSyncCursor is not None
        }
        checked_ids = {calendar.id for calendar in [*split.checked, *split.lost]}
        self.unwatched = wants_watches(self.connection) and any(
            not row.watched for row in rows if row.RemoteCalendar.id in checked_ids
        )
        # A run with nothing to do after its last checked calendar ends in the
        # transaction of that calendar's last page (one transaction fewer per sync).
        if (
            split.checked
            and not split.lost
            and self.connection.status is ConnectionStatus.CONNECTED
        ):
            self.last_calendar = split.checked[-1].id
        return client, split.checked, split.lost

    async def _access_regained(self) -> None:
        """C44: a re-probed connection was read again: access is back."""
        async with self.ctx.sessionmaker.begin() as session:
            await renew(self.ctx, session, self.connection.id)
            if await mark_access_regained(session, self.connection.id):
                self.busy_changed = True  # booking with this user works again

    async def _calendar_regained(self, calendar: RemoteCalendar) -> None:
        """C27: a lost calendar was read in full again: access is back."""
        async with self.ctx.sessionmaker.begin() as session:
            await renew(self.ctx, session, self.connection.id)
            await mark_calendars_regained(session, [calendar.id])
        self.busy_changed = True

    async def _calendar_lost(self, calendar: RemoteCalendar) -> None:
        """C2: the calendar was deleted or unshared at the provider."""
        async with self.ctx.sessionmaker.begin() as session:
            await renew(self.ctx, session, self.connection.id)
            await mark_calendars_lost(session, [calendar.id])
            await synced_events.forget(session, [calendar.id])
        self.busy_changed = self.rows_changed = True

    async def _sync_calendar(self, client: CalendarClient, calendar: RemoteCalendar) -> None:
        state = await self._cursor(calendar)
        restarted = False
        while True:
            try:
                changes = await client.list_changes(
                    calendar.remote_id,
                    None if state.full_listing else state.cursor,
                    Interval(_aware(state.window_start), _aware(state.window_end)),
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
        state = self.cursors.pop(calendar.id, None)
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
        self.rows_changed = True
        async with self.ctx.sessionmaker.begin() as session:
            await renew(self.ctx, session, self.connection.id)
            self.busy_changed |= await synced_events.forget(
                session, [calendar.id], keep_cursor=True
            )
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
        transaction; the lease is renewed by the statement that saves the position, or
        the page is not applied (one statement when the page brings no change)."""
        if changes.next_cursor is None and changes.next_page is None:
            raise ProviderError("The provider answered without a sync position; try again.")
        now = self.ctx.clock()
        if changes.changed or changes.removed:
            self.rows_changed = True
        async with self.ctx.sessionmaker.begin() as session:
            changed = await synced_events.upsert(session, calendar, changes, now)
            removed = await synced_events.remove(session, calendar.id, changes.removed)
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
            renewed = renewal(self.ctx, self.connection.id)
            saved = await session.execute(
                update(CalendarSyncCursor)
                .where(
                    CalendarSyncCursor.remote_calendar_id == calendar.id,
                    exists(select(renewed.c.id)),
                )
                .values(**values)
                .execution_options(synchronize_session=False)  # nothing loaded to keep in step
            )
            if not saved.rowcount:  # type: ignore[attr-defined]
                raise LeaseLost
            if changes.skipped:  # unreadable items cost themselves only; counted here
                await session.execute(
                    update(CalendarConnection)
                    .where(CalendarConnection.id == self.connection.id)
                    .values(skipped_items=CalendarConnection.skipped_items + len(changes.skipped))
                )
            if changes.next_cursor is not None and calendar.id == self.last_calendar:
                self.ended = await endings.synced(
                    self.ctx, self.connection, recount=self.rows_changed, session=session
                )
        self.busy_changed |= changed or removed
        for name, value in values.items():
            setattr(state, name, value)
        return state


def _aware(value: dt.datetime | None) -> dt.datetime:
    assert value is not None, "a cursor row always has its window"
    return value.astimezone(dt.UTC)


def _retry_after(error: ProviderError) -> float | None:
    return error.retry_after if isinstance(error, TransientError) else None
