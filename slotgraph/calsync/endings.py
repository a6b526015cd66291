"""How a sync run ends, on the connection (C1 keeps `status` and the sync state apart):

- success: sync state SYNCED, `last_synced_at`, `events_synced` (events held for the
  connection's calendars), `next_sync_at` one interval later;
- lost access (a revoked grant): sync state ERROR with the reason, parked (`next_sync_at`
  NULL, no automatic retries) until reconnected;
- any other failure: sync state ERROR with the provider's safe message, one more attempt
  counted and `next_sync_at` backed off exponentially (never sooner than the provider's
  Retry-After); after `max_attempts` failures in a row the connection is parked with its
  error visible until someone asks for a sync (`slotgraph.calsync.engine.request_sync`).

Each ending releases the lease; one whose lease was taken over meanwhile is LEASE_LOST.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select

from slotgraph.calendars.lost_access import reprobed
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.leases import release
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models import SyncedEvent
from slotgraph.models.enums import SyncState

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


async def synced(
    ctx: SyncContext,
    connection: CalendarConnection,
    *,
    recount: bool = True,
    session: AsyncSession | None = None,
) -> Outcome:
    """`recount`: whether the run wrote or dropped synced events; a run that did not
    leaves `events_synced` as counted before (counting reads every row of the
    connection's calendars, on every sync). `session`: end the run in the transaction of
    its last write (`leases.release`)."""
    now = ctx.clock()
    values: dict[str, object] = {
        "sync_state": SyncState.SYNCED,
        "last_synced_at": now,
        "last_error": None,
        "sync_attempts": 0,
        # Asked again while this run held it (`engine.request_sync`): due now, since the
        # change asked about may postdate what this run listed.
        "next_sync_at": case((CalendarConnection.sync_asked, now), else_=now + ctx.config.interval),
    }
    if recount:
        values["events_synced"] = (
            select(func.count())
            .select_from(SyncedEvent)
            .join(RemoteCalendar, RemoteCalendar.id == SyncedEvent.remote_calendar_id)
            .where(RemoteCalendar.connection_id == connection.id)
            .scalar_subquery()
        )
    finished = await release(ctx, connection.id, values, session)
    return Outcome.SYNCED if finished else Outcome.LEASE_LOST


async def access_lost(ctx: SyncContext, connection: CalendarConnection, message: str) -> Outcome:
    values: dict[str, object] = {
        "sync_state": SyncState.ERROR,
        "last_error": message,
        "next_sync_at": None,
    }
    if reprobed(connection.provider):  # C44: probed again later, with backoff
        attempts = connection.sync_attempts + 1
        values.update(
            sync_attempts=attempts, next_sync_at=ctx.clock() + ctx.config.backoff(attempts)
        )
    finished = await release(ctx, connection.id, values)
    return Outcome.ACCESS_LOST if finished else Outcome.LEASE_LOST


async def failed(
    ctx: SyncContext, connection: CalendarConnection, message: str, retry_after: float | None
) -> Outcome:
    config = ctx.config
    now = ctx.clock()
    attempts = connection.sync_attempts + 1
    parked = attempts >= config.max_attempts
    if parked:
        next_at = None
        shown = (
            f"{message} Automatic retries stopped after {attempts} failed attempts; "
            "run syncCalendarConnection to try again."
        )
    else:
        delay = config.backoff(attempts)
        if retry_after is not None:
            delay = max(delay, dt.timedelta(seconds=retry_after))
        next_at = now + delay
        shown = f"{message} The sync will be retried automatically."
    finished = await release(
        ctx,
        connection.id,
        {
            "sync_state": SyncState.ERROR,
            "last_error": shown,
            "sync_attempts": attempts,
            "next_sync_at": next_at,
        },
    )
    if not finished:
        return Outcome.LEASE_LOST
    return Outcome.PARKED if parked else Outcome.FAILED
