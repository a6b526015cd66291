"""Applying sync pages to the synced events of a calendar (`synced_events`): changed
events upserted with their busy span (C4, in the calendar's zone), removed events deleted,
and a calendar's events (and cursor) forgotten. Each answers whether busy time changed, so
the run tells `on_busy_change` only when it did. Rows are keyed by (calendar, remote event
id), so a replayed page changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from slotgraph.models import CalendarSyncCursor
from slotgraph.models import SyncedEvent
from slotgraph.providers.busy import busy_interval

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.models import RemoteCalendar
    from slotgraph.providers.base import ChangeSet

# asyncpg takes at most 32,767 bind parameters per statement.
ROWS_PER_STATEMENT = 1_000


async def upsert(
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


async def remove(session: AsyncSession, calendar_id: int, event_ids: Sequence[str]) -> bool:
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


async def forget(
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
