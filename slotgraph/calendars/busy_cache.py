"""Reading and writing the busy cache (`slotgraph.models.busy_cache`, C16).

Every successful live free/busy read is stored: per calendar, the read window replaces what
the cache held for that span (its window rows and the snapshot intervals inside it), in one
transaction under a row lock on the calendar, so a reader sees either the old read or the
new one. Windows older than both of the policy's windows can never answer again and are
dropped, with their intervals, whenever their calendar is written.

A lookup answers only when, for every calendar asked, the windows read since `fresh_since`
cover the whole span without a gap; otherwise it answers None and the caller must not
pretend to know (`slotgraph.usecases.availability` turns that into `AvailabilityUnknown`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from slotgraph.models import BusyCacheInterval
from slotgraph.models import BusyCacheWindow
from slotgraph.models import RemoteCalendar
from slotgraph.providers.base import Interval

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class BusyCachePolicy:
    """How old a cached read may be, per use (docs/operations.md, "Busy cache").

    `fallback`: when a live read fails transiently (timeout, 5xx, 429 after the adapter's
    retries), availableSlots and bookMeeting answer from a read at most this old; past it
    they answer `AvailabilityUnknown` (retryable). `listing`: availableSlots answers from a
    read at most this old without calling the provider at all (0 turns it off); bookMeeting
    always reads live first, so a booking never rests on a cache it could have refreshed.
    """

    fallback: dt.timedelta = dt.timedelta(seconds=300)
    listing: dt.timedelta = dt.timedelta(seconds=30)

    @property
    def longest(self) -> dt.timedelta:
        """Reads older than this can never answer again: they are pruned."""
        return max(self.fallback, self.listing)


@dataclass(frozen=True, slots=True)
class CachedBusy:
    busy: list[Interval]  # the union over the calendars asked, merged and sorted
    read_at: dt.datetime  # the oldest read the answer rests on


def _outside(
    start: dt.datetime, end: dt.datetime, cut_start: dt.datetime, cut_end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """What is left of `[start, end)` once `[cut_start, cut_end)` is taken out."""
    pieces = []
    if start < cut_start:
        pieces.append((start, min(end, cut_start)))
    if cut_end < end:
        pieces.append((max(start, cut_end), end))
    return pieces


async def _clear(
    session: AsyncSession, calendar_id: int, start: dt.datetime, end: dt.datetime
) -> None:
    """Take `[start, end)` out of the calendar's windows and snapshot intervals, keeping the
    parts outside it as they were."""
    windows = (
        await session.execute(
            delete(BusyCacheWindow)
            .where(
                BusyCacheWindow.remote_calendar_id == calendar_id,
                BusyCacheWindow.window_end > start,
                BusyCacheWindow.window_start < end,
            )
            .returning(
                BusyCacheWindow.window_start, BusyCacheWindow.window_end, BusyCacheWindow.read_at
            )
        )
    ).all()
    kept_windows = [
        {"remote_calendar_id": calendar_id, "window_start": a, "window_end": b, "read_at": read}
        for w_start, w_end, read in windows
        for a, b in _outside(w_start, w_end, start, end)
    ]
    if kept_windows:
        await session.execute(insert(BusyCacheWindow), kept_windows)
    spans = (
        await session.execute(
            delete(BusyCacheInterval)
            .where(
                BusyCacheInterval.remote_calendar_id == calendar_id,
                BusyCacheInterval.source_event_id.is_(None),
                BusyCacheInterval.ends_at > start,
                BusyCacheInterval.starts_at < end,
            )
            .returning(BusyCacheInterval.starts_at, BusyCacheInterval.ends_at)
        )
    ).all()
    kept_spans = [
        {"remote_calendar_id": calendar_id, "starts_at": a, "ends_at": b}
        for s_start, s_end in spans
        for a, b in _outside(s_start, s_end, start, end)
    ]
    if kept_spans:
        await session.execute(insert(BusyCacheInterval), kept_spans)


async def _prune(session: AsyncSession, calendar_id: int, read_before: dt.datetime) -> None:
    """Drop windows too old to answer, and the snapshot intervals inside them (every
    snapshot interval lies inside exactly one window: they are clipped when stored)."""
    stale = (
        await session.execute(
            delete(BusyCacheWindow)
            .where(
                BusyCacheWindow.remote_calendar_id == calendar_id,
                BusyCacheWindow.read_at < read_before,
            )
            .returning(BusyCacheWindow.window_start, BusyCacheWindow.window_end)
        )
    ).all()
    for w_start, w_end in stale:
        await session.execute(
            delete(BusyCacheInterval).where(
                BusyCacheInterval.remote_calendar_id == calendar_id,
                BusyCacheInterval.source_event_id.is_(None),
                BusyCacheInterval.starts_at >= w_start,
                BusyCacheInterval.ends_at <= w_end,
            )
        )


async def store(
    session: AsyncSession,
    reads: Mapping[int, Sequence[Interval]],
    start: dt.datetime,
    end: dt.datetime,
    *,
    read_at: dt.datetime,
    keep_since: dt.datetime,
) -> None:
    """Record live reads of `[start, end)` (remote calendar id -> busy spans), replacing
    what the cache held for that span. Call inside a transaction."""
    if not reads:
        return
    ids = sorted(reads)
    # One writer per calendar at a time, in id order so concurrent writers cannot deadlock.
    # NO KEY UPDATE does not block inserts referencing the calendar (they take KEY SHARE).
    await session.execute(
        select(RemoteCalendar.id)
        .where(RemoteCalendar.id.in_(ids))
        .order_by(RemoteCalendar.id)
        .with_for_update(key_share=True)
    )
    windows: list[dict[str, object]] = []
    spans: list[dict[str, object]] = []
    for calendar_id in ids:
        await _prune(session, calendar_id, keep_since)
        await _clear(session, calendar_id, start, end)
        windows.append(
            {
                "remote_calendar_id": calendar_id,
                "window_start": start,
                "window_end": end,
                "read_at": read_at,
            }
        )
        spans.extend(
            {
                "remote_calendar_id": calendar_id,
                "starts_at": max(span.start, start),
                "ends_at": min(span.end, end),
            }
            for span in reads[calendar_id]
            if span.start < end and start < span.end
        )
    await session.execute(insert(BusyCacheWindow), windows)
    if spans:
        await session.execute(insert(BusyCacheInterval), spans)


def _covers(
    windows: list[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
) -> bool:
    """Whether the windows, together, leave no gap in `[start, end)`."""
    reached = start
    for w_start, w_end in sorted(windows):
        if w_start > reached:
            return False
        reached = max(reached, w_end)
        if reached >= end:
            return True
    return reached >= end


async def lookup(
    session: AsyncSession,
    calendar_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    *,
    fresh_since: dt.datetime,
) -> CachedBusy | None:
    """The union of the calendars' cached busy spans meeting `[start, end)`, or None unless
    reads made since `fresh_since` cover the whole span for each of them."""
    if not calendar_ids:
        return CachedBusy(busy=[], read_at=fresh_since)
    rows = (
        await session.execute(
            select(
                BusyCacheWindow.remote_calendar_id,
                BusyCacheWindow.window_start,
                BusyCacheWindow.window_end,
                BusyCacheWindow.read_at,
            ).where(
                BusyCacheWindow.remote_calendar_id.in_(calendar_ids),
                BusyCacheWindow.read_at >= fresh_since,
                BusyCacheWindow.window_end > start,
                BusyCacheWindow.window_start < end,
            )
        )
    ).all()
    per_calendar: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {c: [] for c in calendar_ids}
    for calendar_id, w_start, w_end, _ in rows:
        per_calendar[calendar_id].append((w_start, w_end))
    if not all(_covers(windows, start, end) for windows in per_calendar.values()):
        return None
    # The union is merged in the database (range_agg, PostgreSQL 14+): a busy host's
    # 10,000 cached intervals come back as the hundred or so spans they make together,
    # which is all the slot computation needs.
    union = (
        select(
            func.range_agg(func.tstzrange(BusyCacheInterval.starts_at, BusyCacheInterval.ends_at))
        )
        .where(
            BusyCacheInterval.remote_calendar_id.in_(calendar_ids),
            BusyCacheInterval.ends_at > start,
            BusyCacheInterval.starts_at < end,
        )
        .scalar_subquery()
    )
    spans = func.unnest(union).table_valued("span").render_derived()
    merged = select(func.lower(spans.c.span), func.upper(spans.c.span))
    busy = [Interval(a, b) for a, b in (await session.execute(merged)).all()]
    return CachedBusy(busy=busy, read_at=min(row[3] for row in rows))
