"""What counts as busy (C4), shared by every adapter and the sync engine so that the same
calendar yields the same busy time whichever provider serves it.

Busy: busy, tentative, out of office, unanswered invitations, private events (their
details are never shown), opaque all-day events (they block their dates in the calendar's
own time zone). Free: free/transparent, declined by the user, cancelled, working elsewhere.

`FreeBusyAnswer` gathers one `free_busy` call's pieces (request chunks, windows, calendar
views) into the `FreeBusy` every adapter answers: a calendar that failed is in `errors`,
never busy-free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from slotgraph.providers.base import EventStatus
from slotgraph.providers.base import FreeBusy
from slotgraph.providers.base import Interval
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import RemoteEvent
from slotgraph.providers.base import Response
from slotgraph.providers.base import ShowAs

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


def split_mailboxes(
    calendar_ids: Iterable[str], is_mailbox: Callable[[str], bool]
) -> tuple[list[str], list[str], list[str]]:
    """The asked ids once each, in order; the mailbox addresses among them; the others.

    Microsoft 365 and Exchange answer a mailbox address through their schedule service
    (many at once) and a calendar id through a calendar view, one each; `is_mailbox` is the
    adapter's own rule for telling them apart."""
    ids = list(dict.fromkeys(calendar_ids))
    return ids, [c for c in ids if is_mailbox(c)], [c for c in ids if not is_mailbox(c)]


class FreeBusyAnswer:
    """Busy spans and errors per asked calendar, collected piece by piece."""

    def __init__(self, calendar_ids: Iterable[str]) -> None:
        self.busy: dict[str, list[Interval]] = {calendar_id: [] for calendar_id in calendar_ids}
        self.errors: dict[str, ProviderError] = {}

    def add(self, answers: dict[str, list[Interval] | ProviderError]) -> None:
        """One request's answer per calendar; a calendar's first error is the one kept."""
        for calendar_id, answer in answers.items():
            if isinstance(answer, ProviderError):
                self.errors.setdefault(calendar_id, answer)
            elif calendar_id in self.busy:
                self.busy[calendar_id].extend(answer)

    def add_events(
        self, calendar_id: str, events: Sequence[RemoteEvent], calendar_time_zone: str
    ) -> None:
        """A calendar view's events, through the C4 rules."""
        self.busy[calendar_id].extend(
            span
            for event in events
            if (span := busy_interval(event, calendar_time_zone)) is not None
        )

    def fail(self, calendar_id: str, error: ProviderError) -> None:
        self.errors[calendar_id] = error

    def result(self, start: dt.datetime, end: dt.datetime) -> FreeBusy:
        """Each calendar's spans merged and clipped to `[start, end)`, failed ones left out."""
        return FreeBusy(
            busy={
                calendar_id: merge_spans(spans, start, end)
                for calendar_id, spans in self.busy.items()
                if calendar_id not in self.errors
            },
            errors=self.errors,
        )
