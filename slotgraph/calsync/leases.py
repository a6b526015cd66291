"""Sync leases on connections (`sync_claimed_by` / `sync_claimed_until`): claiming, renewing
and releasing them.

A run holds a lease on its connection, taken in one UPDATE and renewed with every page. A
second worker cannot claim a leased connection; a killed worker's lease expires and the
next claimer takes over. A worker whose lease was taken over stops at its next page
without writing (`LeaseLost`). Claiming sets the sync state SYNCING and tells
`on_state_change` after commit.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.calendars.lost_access import REPROBED
from slotgraph.calsync.context import LeaseLost
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.context import call_hook
from slotgraph.models import CalendarConnection
from slotgraph.models import User
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import SyncState

if TYPE_CHECKING:
    from sqlalchemy import CTE
    from sqlalchemy import Update
    from sqlalchemy.ext.asyncio import AsyncSession


def _claimable(now: dt.datetime) -> Any:
    """A connected (or re-probed after lost access, C44), unleased connection whose user is
    active (a deactivated user's connections stop syncing, C23)."""
    user_deactivated = exists().where(
        User.id == CalendarConnection.user_id, User.deactivated_at.is_not(None)
    )
    return (
        (
            (CalendarConnection.status == ConnectionStatus.CONNECTED)
            | (
                (CalendarConnection.status == ConnectionStatus.ACCESS_LOST)
                & CalendarConnection.provider.in_(sorted(REPROBED))
            )
        )
        & ~user_deactivated
        & (
            CalendarConnection.sync_claimed_until.is_(None)
            | (CalendarConnection.sync_claimed_until < now)
        )
    )


def _claim_values(ctx: SyncContext, now: dt.datetime) -> dict[str, Any]:
    return {
        "sync_claimed_by": ctx.worker,
        "sync_claimed_until": now + ctx.config.lease,
        "sync_state": SyncState.SYNCING,
        "sync_asked": False,  # this run lists everything changed until now
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
        await call_hook(ctx.on_state_change, connection_id)
    return row


async def claim_due(
    ctx: SyncContext, limit: int, *, due_by: dt.datetime | None = None
) -> list[CalendarConnection]:
    """Lease up to `limit` connections due by `due_by` (default: now), oldest due first.
    `FOR UPDATE SKIP LOCKED` lets several workers claim at once without waiting on or
    double-taking a row."""
    now = ctx.clock()
    due = (
        select(CalendarConnection.id)
        .where(_claimable(now), CalendarConnection.next_sync_at <= (due_by or now))
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
        await call_hook(ctx.on_state_change, row.id)
    return rows


def _renewing(ctx: SyncContext, connection_id: int) -> Update:
    return (
        update(CalendarConnection)
        .where(
            CalendarConnection.id == connection_id,
            CalendarConnection.sync_claimed_by == ctx.worker,
        )
        .values(sync_claimed_until=ctx.clock() + ctx.config.lease)
        .execution_options(synchronize_session=False)  # nothing loaded to keep in step
    )


async def renew(ctx: SyncContext, session: AsyncSession, connection_id: int) -> None:
    """Extend our lease inside the caller's transaction, or stop if it is no longer ours."""
    renewed = await session.execute(_renewing(ctx, connection_id))
    if not renewed.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost


def renewal(ctx: SyncContext, connection_id: int) -> CTE:
    """`renew` as a CTE with an `id` column for another write to depend on (`EXISTS`):
    the write renews the lease and is done only while the lease is ours, in one
    statement. A write that changes no row then means `LeaseLost`."""
    return _renewing(ctx, connection_id).returning(CalendarConnection.id).cte("renewed")


async def release(
    ctx: SyncContext,
    connection_id: int,
    values: dict[str, Any],
    session: AsyncSession | None = None,
) -> bool:
    """Record the end of the run (`values`) and release the lease, if the lease is still
    ours and the user did not disconnect meanwhile (disconnecting resets the sync state);
    whether it was. In the caller's transaction when given `session` (a run's last write
    and its end commit together), else in one of its own."""
    statement = (
        update(CalendarConnection)
        .where(
            CalendarConnection.id == connection_id,
            CalendarConnection.sync_claimed_by == ctx.worker,
            CalendarConnection.status != ConnectionStatus.DISCONNECTED,
        )
        .values(sync_claimed_by=None, sync_claimed_until=None, **values)
        .execution_options(synchronize_session=False)  # nothing loaded to keep in step
    )
    if session is not None:
        return bool((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
    async with ctx.sessionmaker.begin() as own:
        done = await own.execute(statement)
    return bool(done.rowcount)  # type: ignore[attr-defined]
