"""What counts as busy (C4), shared by every adapter and the sync engine so that the same
calendar yields the same busy time whichever provider serves it.

Busy: busy, tentative, out of office, unanswered invitations, private events (their
details are never shown), opaque all-day events (they block their dates in the calendar's
own time zone). Free: free/transparent, declined by the user, cancelled, working elsewhere.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from slotgraph.providers.base import EventStatus, Interval, RemoteEvent, Response, ShowAs

FREE_SHOW_AS = frozenset({ShowAs.FREE, ShowAs.WORKING_ELSEWHERE})


def is_busy(event: RemoteEvent) -> bool:
    return (
        event.status is not EventStatus.CANCELLED
        and event.response is not Response.DECLINED
        and event.show_as not in FREE_SHOW_AS
    )


def all_day_span(first: dt.date, end_exclusive: dt.date, time_zone: str) -> Interval:
    """Local midnight to local midnight in the calendar's zone, as UTC (C4)."""
    zone = ZoneInfo(time_zone)
    start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(end_exclusive, dt.time(), zone).astimezone(dt.UTC)
    return Interval(start, end)


def busy_interval(event: RemoteEvent, calendar_time_zone: str) -> Interval | None:
    """The busy span of an event, or None when it leaves the time free."""
    if not is_busy(event):
        return None
    if event.all_day:
        return all_day_span(event.start.date(), event.end.date(), calendar_time_zone)
    return Interval(event.start, event.end)


def merge_spans(
    spans: list[Interval], start: dt.datetime, end: dt.datetime
) -> tuple[Interval, ...]:
    """Sorted union clipped to the asked window (request windows and occurrences may
    overlap): what an adapter's `free_busy` answers per calendar."""
    result: list[Interval] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        first, last = max(span.start, start), min(span.end, end)
        if first >= last:
            continue
        if result and first <= result[-1].end:
            result[-1] = Interval(result[-1].start, max(result[-1].end, last))
        else:
            result.append(Interval(first, last))
    return tuple(result)
