"""One scripted calendar with the awkward cases, served by every provider fake in its own
wire format, and the busy time C4 says it must yield. Adapters must all agree on it.

Calendar zone America/New_York; the week 2030-03-04 .. 2030-03-11 crosses the US DST
change (2030-03-10), so the all-day event on that date lasts 23 hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

TIME_ZONE = "America/New_York"
WINDOW_START = dt.datetime(2030, 3, 4, tzinfo=dt.UTC)
WINDOW_END = dt.datetime(2030, 3, 12, tzinfo=dt.UTC)


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2030, 3, day, hour, minute, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScriptedEvent:
    """Provider-neutral event. `show_as`: BUSY, TENTATIVE, OUT_OF_OFFICE,
    WORKING_ELSEWHERE or FREE (transparent). `response`: ORGANIZER, ACCEPTED, TENTATIVE,
    DECLINED or NEEDS_ACTION. All-day events use dates (end exclusive)."""

    id: str
    title: str
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    show_as: str = "BUSY"
    response: str = "ORGANIZER"
    cancelled: bool = False
    private: bool = False
    series_id: str | None = None  # instance of a recurring series

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)


EVENTS: tuple[ScriptedEvent, ...] = (
    ScriptedEvent("standup", "Standup", utc(4, 14), utc(4, 14, 30)),
    ScriptedEvent("focus", "Focus time", utc(4, 15), utc(4, 17), show_as="FREE"),
    ScriptedEvent(
        "maybe", "Maybe lunch", utc(4, 17), utc(4, 18), response="TENTATIVE", show_as="TENTATIVE"
    ),
    ScriptedEvent("declined", "Declined review", utc(5, 13), utc(5, 14), response="DECLINED"),
    ScriptedEvent("invite", "Unanswered invite", utc(5, 19), utc(5, 20), response="NEEDS_ACTION"),
    ScriptedEvent("private", "Doctor", utc(5, 21), utc(5, 22), private=True),
    ScriptedEvent("ooo", "Out of office", utc(7, 13), utc(7, 22), show_as="OUT_OF_OFFICE"),
    ScriptedEvent(
        "remote", "Working from home", utc(8, 13), utc(8, 22), show_as="WORKING_ELSEWHERE"
    ),
    ScriptedEvent("offsite", "Offsite", dt.date(2030, 3, 6), dt.date(2030, 3, 7)),
    ScriptedEvent(
        "holiday", "Holiday marker", dt.date(2030, 3, 7), dt.date(2030, 3, 8), show_as="FREE"
    ),
    ScriptedEvent("dst-day", "Family day", dt.date(2030, 3, 10), dt.date(2030, 3, 11)),
    ScriptedEvent("gone", "Cancelled sync", utc(11, 14), utc(11, 15), cancelled=True),
    *(
        ScriptedEvent(
            f"one-on-one_{day}",
            "1:1",
            utc(day, 16),
            utc(day, 16, 30),
            series_id="one-on-one",
            cancelled=day == 6,
        )
        for day in (4, 5, 6, 7, 8)
    ),
)

# C4 applied to EVENTS, merged and sorted.
EXPECTED_BUSY: tuple[tuple[dt.datetime, dt.datetime], ...] = (
    (utc(4, 14), utc(4, 14, 30)),  # standup
    (utc(4, 16), utc(4, 16, 30)),  # 1:1
    (utc(4, 17), utc(4, 18)),  # tentative
    (utc(5, 16), utc(5, 16, 30)),  # 1:1
    (utc(5, 19), utc(5, 20)),  # unanswered invitation
    (utc(5, 21), utc(5, 22)),  # private
    (utc(6, 5), utc(7, 5)),  # all-day offsite in New York (EST, -05:00)
    (utc(7, 13), utc(7, 22)),  # out of office (contains the 1:1 at 16:00)
    (utc(8, 16), utc(8, 16, 30)),  # 1:1 (working elsewhere is free)
    (utc(10, 5), utc(11, 4)),  # all-day on the DST day: 23 hours
)


def merged(
    intervals: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Sorted union, touching intervals joined: how the expectations are written."""
    result: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in sorted(intervals):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def spread(
    count: int, start: dt.datetime, end: dt.datetime, *, prefix: str = "bulk"
) -> list[ScriptedEvent]:
    """`count` plain busy events evenly spread over [start, end), each lasting half of its
    share of the span (whole seconds, as every provider's wire format keeps), so none
    overlap: a large calendar for sync tests and the sync benchmark. Ids are `<prefix><n>`
    (letters and digits only, valid at every provider)."""
    step = dt.timedelta(seconds=(end - start).total_seconds() // count)
    length = dt.timedelta(seconds=step.total_seconds() // 2)
    return [
        ScriptedEvent(f"{prefix}{n:05d}", "Busy", start + step * n, start + step * n + length)
        for n in range(count)
    ]
