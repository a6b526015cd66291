"""Busy time answered from synced events, for the availability engine.

A calendar is answered from its synced events only while its sync is current: its last
complete pass (full listing or incremental) ended less than `freshness` ago and its synced
window covers the asked span. Any other calendar answers None, and the caller reads it live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.models import CalendarSyncCursor
from slotgraph.models import SyncedEvent
from slotgraph.providers.base import Interval

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def is_current(
    state: CalendarSyncCursor,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    freshness: dt.timedelta,
) -> bool:
    return (
        state.cursor is not None
        and state.synced_at is not None
        and state.synced_at >= now - freshness
        and state.window_start is not None
        and state.window_end is not None
        and state.window_start <= start
        and end <= state.window_end
    )


async def synced_busy(
    session: AsyncSession,
    remote_calendar_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    freshness: dt.timedelta,
) -> dict[int, list[Interval] | None]:
    """Per calendar id, its synced busy intervals overlapping `[start, end)` (sorted), or
    None when its sync is not current for that span."""
    result: dict[int, list[Interval] | None] = dict.fromkeys(remote_calendar_ids)
    if not remote_calendar_ids:
        return result
    states = (
        await session.execute(
            select(CalendarSyncCursor).where(
                CalendarSyncCursor.remote_calendar_id.in_(remote_calendar_ids)
            )
        )
    ).scalars()
    current = [
        state.remote_calendar_id
        for state in states
        if is_current(state, start, end, now=now, freshness=freshness)
    ]
    if not current:
        return result
    spans: dict[int, list[Interval]] = {calendar_id: [] for calendar_id in current}
    rows = await session.execute(
        select(SyncedEvent.remote_calendar_id, SyncedEvent.busy_start, SyncedEvent.busy_end)
        .where(
            SyncedEvent.remote_calendar_id.in_(current),
            SyncedEvent.busy_start.is_not(None),
            SyncedEvent.busy_start < end,
            SyncedEvent.busy_end > start,
        )
        .order_by(SyncedEvent.busy_start)
    )
    for calendar_id, busy_start, busy_end in rows:
        if busy_start is not None and busy_end is not None:  # filtered above; for the types
            spans[calendar_id].append(Interval(busy_start, busy_end))
    result.update(spans)
    return result
