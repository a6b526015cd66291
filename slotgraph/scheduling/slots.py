"""The availability engine: the slots an invitee may book on a scheduling page (S8, S12, C17).

`compute_slots` turns a page's rules (`SlotRules`) and the host's busy time into free slots.
It is pure: `now` is an argument (C17), busy time arrives as UTC intervals already read from
every availability calendar (S12), and nothing here reads a clock, a database or a network.
`group_by_day` arranges slots by date in the invitee's zone for display. `refusal` says why
one start is not a slot: the first of the rules below that it breaks.

What the caller owns
- Busy time. Which events count as busy is C4's rule, applied where events are read. All-day
  events are the caller's business as well: an opaque all-day event blocks its date in *its
  calendar's* zone (C4), which need not be the host's, so the caller turns it into a timed
  UTC interval first. The engine sees `[start, end)` intervals in aware datetimes only,
  from any number of calendars, unsorted and overlapping.
- Bookings, passed apart from busy time: they are busy (S8) and they also count towards the
  maximum meetings per day. Passing them in `busy` as well does no harm.
- The query window `[start, end)`: which slot *starts* to list, e.g. the week on screen.

The rules, precisely. A slot `[t, t + duration)` is offered when
- `start <= t < end`, `t >= now + minimum notice` and `t < now + booking window`; the booking
  window rolls from `now` in days of 24 hours, not calendar days;
- every instant of the slot is working time (below);
- `[t - buffer before, t + duration + buffer after)` overlaps no busy time and no booking;
- the local wall-clock time of `t` (host zone) is on the grid: a multiple of the slot interval
  counted from local midnight (10:00, 10:15, ... for 15 minutes). The grid restarts at every
  local midnight, so an interval that does not divide 24 hours still starts each day at 00:00;
- the local date of `t` holds fewer bookings than the maximum meetings per day. Bookings count
  on the local date (host zone) of their start, and a full date takes no new slot starts.
  Pass the bookings of every local date the window touches.

Working time is every instant whose local wall-clock reading (host zone) lies inside the
hours of its local date: that date's override if there is one (no intervals: a day off),
else the weekly hours of its weekday, with `dt.time.max` meaning 24:00. Working intervals
that touch are joined, so a meeting may run over midnight into the next working day.

Daylight saving time. Since working time and the grid are defined by the wall-clock readings
of real instants, neither transition needs a special case:
- Gap (spring forward: 02:00-03:00 does not exist in New York on 2026-03-08). No instant reads
  02:xx, so those times are neither working time nor slot starts. Hours 09:00-17:00 stay
  09:00-17:00 local on both sides of the change; hours 01:00-04:00 on that day are two real
  hours; hours that start in the gap (02:30-04:00) begin when the clock resumes at 03:00.
- Fold (fall back: 01:00-02:00 happens twice in New York on 2026-11-01). Both occurrences are
  real, distinct instants with on-grid readings, so hours covering 01:00-02:00 offer 01:00,
  01:15 ... twice, first in EDT and then in EST, and hours 00:00-01:30 include the second
  01:00-01:30 as well. Slots are UTC instants, so the two are never confused.
The offsets come from zoneinfo: the engine probes the zone once per day around the window
and bisects between two probes that differ to find the exact instant of each change. Offset
changes that undo each other within 24 hours would go unnoticed; real zones change a few
times a year at most.

Performance. Inside, every instant is an integer count of microseconds since the epoch
(exact, and the cheapest thing to sort and compare): busy intervals are converted once,
merged once (sort + sweep), widened by the buffers, subtracted from the working time by a
bisecting sweep, and the grid instants are matched against the free time with bisect. Aware
datetimes are built only for the slots returned. `bench/slots.py` measures it.
"""

from __future__ import annotations

import datetime as dt
import enum
from bisect import bisect_left
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slotgraph.scheduling.intervals import Span
from slotgraph.scheduling.intervals import merge
from slotgraph.scheduling.intervals import subtract
from slotgraph.scheduling.rules import DateOverride
from slotgraph.scheduling.rules import RuleError
from slotgraph.scheduling.rules import WeeklyHours
from slotgraph.scheduling.rules import check_time_zone

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_EPOCH_WEEKDAY = _EPOCH.weekday()
_MICROSECOND = dt.timedelta(microseconds=1)
_MINUTE = 60_000_000
_DAY = 86_400_000_000

_Micros = tuple[int, int]
"""An interval in microseconds since the epoch (or since local midnight, for wall times)."""


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """A bookable meeting time `[start, end)`, aware UTC datetimes."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotRules:
    """The settings of a page that decide its slots; impossible values raise `RuleError`.

    `booking_window_days` and `max_meetings_per_day` may be `None`: no limit.
    """

    time_zone: str
    weekly_hours: Sequence[WeeklyHours]
    date_overrides: Sequence[DateOverride] = ()
    duration_minutes: int
    interval_minutes: int = 15
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 0
    booking_window_days: int | None = None
    max_meetings_per_day: int | None = None

    def __post_init__(self) -> None:
        check_time_zone("timeZone", self.time_zone)
        if self.duration_minutes <= 0:
            raise RuleError("durations", "a meeting lasts at least one minute")
        if self.interval_minutes <= 0:
            raise RuleError("slotInterval", "slots start at least one minute apart")
        for field, value in (
            ("bufferBefore", self.buffer_before_minutes),
            ("bufferAfter", self.buffer_after_minutes),
            ("minimumNotice", self.minimum_notice_minutes),
            ("bookingWindowDays", self.booking_window_days),
            ("maxMeetingsPerDay", self.max_meetings_per_day),
        ):
            if value is not None and value < 0:
                raise RuleError(field, "must be 0 or more")


def compute_slots(
    rules: SlotRules,
    *,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    busy: Iterable[Span[dt.datetime]] = (),
    bookings: Iterable[Span[dt.datetime]] = (),
) -> list[Slot]:
    """The free slots starting in `[start, end)`, sorted by start (rules: module docstring).

    `now`, `start`, `end` and all intervals must be aware datetimes (`ValueError` or
    `TypeError` otherwise); the slots come back in UTC. Intervals are any `(start, end)`
    pairs: `Interval`s as the use cases pass them, or plain tuples.
    """
    for name, moment in (("now", now), ("start", start), ("end", end)):
        if moment.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    now_at = _micros(now)
    first = max(_micros(start), now_at + rules.minimum_notice_minutes * _MINUTE)
    stop = _micros(end)
    if rules.booking_window_days is not None:
        stop = min(stop, now_at + rules.booking_window_days * _DAY)
    if first >= stop or rules.max_meetings_per_day == 0:
        return []

    zone = ZoneInfo(rules.time_zone)
    epoch, unit = _EPOCH, _MICROSECOND
    booked = [
        ((booking_start - epoch) // unit, (booking_end - epoch) // unit)
        for booking_start, booking_end in bookings
    ]
    full_days = _full_days(booked, zone, rules.max_meetings_per_day)
    candidates, working = _grid_and_working_time(rules, zone, first, stop, full_days)
    if not candidates:
        return []

    busy_micros = [
        ((busy_start - epoch) // unit, (busy_end - epoch) // unit) for busy_start, busy_end in busy
    ]
    blocked = _widen(
        merge(busy_micros + booked),
        before=rules.buffer_before_minutes * _MINUTE,
        after=rules.buffer_after_minutes * _MINUTE,
    )
    free = subtract(merge(working), blocked)
    duration = rules.duration_minutes * _MINUTE
    return [
        Slot(_moment(slot_start), _moment(slot_start + duration))
        for slot_start in _fitting(candidates, free, duration)
    ]


class Refusal(enum.StrEnum):
    """Why a start is not offered, one per rule of `compute_slots`, in the order checked."""

    IN_THE_PAST = "IN_THE_PAST"
    MINIMUM_NOTICE = "MINIMUM_NOTICE"  # sooner than the page's minimum notice
    BEYOND_BOOKING_WINDOW = "BEYOND_BOOKING_WINDOW"
    OUTSIDE_HOURS = "OUTSIDE_HOURS"  # starts, or would run, outside the page's hours
    OFF_GRID = "OFF_GRID"  # in the hours, but not on the slot interval's grid
    DAY_FULL = "DAY_FULL"  # the date holds the page's maximum meetings per day
    TAKEN = "TAKEN"  # the host is busy then (an event or a booking, with the buffers)


def refusal(
    rules: SlotRules,
    *,
    now: dt.datetime,
    start: dt.datetime,
    busy: Iterable[Span[dt.datetime]] = (),
    bookings: Iterable[Span[dt.datetime]] = (),
) -> Refusal | None:
    """Why `compute_slots` would not offer a slot starting at `start`, or None when it
    would: the one rule that names the reason a booking is refused. The same rules in the
    same terms as `compute_slots` (the module docstring), checked one after another: when
    two are broken, the one listed first in `Refusal` is the answer (past before too soon,
    outside the hours before off the grid), so the caller learns the most basic fix first.
    """
    if now.utcoffset() is None or start.utcoffset() is None:
        raise ValueError("now and start must be aware datetimes")
    at, now_at = _micros(start), _micros(now)
    if at < now_at:
        return Refusal.IN_THE_PAST
    if at < now_at + rules.minimum_notice_minutes * _MINUTE:
        return Refusal.MINIMUM_NOTICE
    if rules.booking_window_days is not None and at >= now_at + rules.booking_window_days * _DAY:
        return Refusal.BEYOND_BOOKING_WINDOW
    zone = ZoneInfo(rules.time_zone)
    candidates, working = _grid_and_working_time(rules, zone, at, at + 1, set())
    hours = merge(working)
    duration = rules.duration_minutes * _MINUTE
    if not _fitting([at], hours, duration):
        return Refusal.OUTSIDE_HOURS
    if at not in candidates:
        return Refusal.OFF_GRID
    booked = [(_micros(low), _micros(high)) for low, high in bookings]
    if rules.max_meetings_per_day == 0 or _local_day(zone, at) in _full_days(
        booked, zone, rules.max_meetings_per_day
    ):
        return Refusal.DAY_FULL
    blocked = _widen(
        merge([(_micros(low), _micros(high)) for low, high in busy] + booked),
        before=rules.buffer_before_minutes * _MINUTE,
        after=rules.buffer_after_minutes * _MINUTE,
    )
    if not _fitting([at], subtract(hours, blocked), duration):
        return Refusal.TAKEN
    return None


def group_by_day(slots: Iterable[Slot], time_zone: str) -> list[tuple[dt.date, list[Slot]]]:
    """Slots grouped by the date of their start in `time_zone` (the invitee's), in order,
    their times written in that zone (C31: the same instants, with the offset the caller
    asked in, so no client converts).

    A booking page shows one column or list per day in the invitee's zone, which may split
    one of the host's days in two or join two of them.
    """
    zone = ZoneInfo(check_time_zone("timeZone", time_zone))
    days: list[tuple[dt.date, list[Slot]]] = []
    for slot in sorted(slots):
        local = Slot(slot.start.astimezone(zone), slot.end.astimezone(zone))
        day = local.start.date()
        if days and days[-1][0] == day:
            days[-1][1].append(local)
        else:
            days.append((day, [local]))
    return days


def _micros(moment: dt.datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def _offset(zone: ZoneInfo, micros: int) -> int:
    """The zone's UTC offset at an instant, in microseconds."""
    offset = _moment(micros).astimezone(zone).utcoffset()
    assert offset is not None  # a datetime in a ZoneInfo always has one
    return offset // _MICROSECOND


def _local_day(zone: ZoneInfo, micros: int) -> int:
    """Days since 1970-01-01 of the local date at an instant."""
    return (micros + _offset(zone, micros)) // _DAY


def _full_days(booked: list[_Micros], zone: ZoneInfo, limit: int | None) -> set[int]:
    """Local dates (days since the epoch) that already hold `limit` bookings or more."""
    if limit is None:
        return set()
    counts = Counter(_local_day(zone, booking_start) for booking_start, _ in booked)
    return {day for day, count in counts.items() if count >= limit}


def _offset_segments(zone: ZoneInfo, low: int, high: int) -> list[tuple[int, int, int]]:
    """`(start, end, offset)` pieces of constant UTC offset covering `[low, high)`.

    Probes once a day; where a probe's offset differs from the current piece's, bisects down
    to the microsecond for the first instant of the new offset.
    """
    segments: list[tuple[int, int, int]] = []
    piece_start, piece_offset = low, _offset(zone, low)
    probe = low
    while probe < high - 1:
        following = min(probe + _DAY, high - 1)
        while _offset(zone, following) != piece_offset:
            known, changed = max(probe, piece_start), following
            while changed - known > 1:
                middle = (known + changed) // 2
                if _offset(zone, middle) == piece_offset:
                    known = middle
                else:
                    changed = middle
            segments.append((piece_start, changed, piece_offset))
            piece_start, piece_offset = changed, _offset(zone, changed)
        probe = following
    segments.append((piece_start, high, piece_offset))
    return segments


def _wall_micros(value: dt.time) -> int:
    """Microseconds after local midnight; `dt.time.max` is 24:00 (as in `rules`)."""
    if value == dt.time.max:
        return _DAY
    seconds = (value.hour * 60 + value.minute) * 60 + value.second
    return seconds * 1_000_000 + value.microsecond


def _wall_hours(intervals: Iterable[tuple[dt.time, dt.time]]) -> list[_Micros]:
    return merge((_wall_micros(begin), _wall_micros(finish)) for begin, finish in intervals)


def _grid_and_working_time(
    rules: SlotRules, zone: ZoneInfo, first: int, stop: int, full_days: set[int]
) -> tuple[list[int], list[_Micros]]:
    """The grid instants in `[first, stop)` that lie in working time, sorted, and the working
    time itself (unmerged), from the local date of `first` to the date after that of `stop`:
    a slot that starts late on the last date may run past midnight into working time."""
    weekly: list[list[_Micros]] = [
        _wall_hours(
            (hours.start, hours.end) for hours in rules.weekly_hours if hours.weekday == day
        )
        for day in range(7)
    ]
    overrides = {
        override.date.toordinal() - _EPOCH_ORDINAL: _wall_hours(override.intervals)
        for override in rules.date_overrides
    }
    grid = rules.interval_minutes * _MINUTE
    first_day, last_day = _local_day(zone, first), _local_day(zone, stop - 1) + 1
    # Every instant of a local date lies within a day of its UTC midnight (|offset| < 24 h).
    segments = _offset_segments(zone, (first_day - 1) * _DAY, (last_day + 2) * _DAY)

    candidates: list[int] = []
    working: list[_Micros] = []
    for piece_start, piece_end, offset in segments:
        from_day = max(first_day, (piece_start + offset) // _DAY)
        to_day = min(last_day, (piece_end - 1 + offset) // _DAY)
        for day in range(from_day, to_day + 1):
            hours = overrides.get(day)
            if hours is None:
                hours = weekly[(day + _EPOCH_WEEKDAY) % 7]
            midnight = day * _DAY - offset  # the instant that would read 00:00 at this offset
            takes_bookings = day not in full_days
            for wall_start, wall_end in hours:
                low = max(piece_start, midnight + wall_start)
                high = min(piece_end, midnight + wall_end)
                if low >= high:
                    continue
                working.append((low, high))
                grid_low, grid_high = max(low, first), min(high, stop)
                if takes_bookings and grid_low < grid_high:
                    # Round up to the grid counted from this date's local midnight.
                    aligned = midnight - (midnight - grid_low) // grid * grid
                    candidates.extend(range(aligned, grid_high, grid))
    return candidates, working


def _widen(merged: list[_Micros], *, before: int, after: int) -> list[_Micros]:
    """Busy time grown so that a slot needs only to avoid it: a slot `[t, t + d)` keeps
    `before` free ahead of it and `after` behind it exactly when it misses every busy
    interval stretched to `[start - after, end + before)`. Stretching keeps the order, so
    one sweep joins the intervals that now touch."""
    if not (before or after):
        return merged
    widened: list[_Micros] = []
    for busy_start, busy_end in merged:
        low, high = busy_start - after, busy_end + before
        if widened and low <= widened[-1][1]:
            widened[-1] = (widened[-1][0], high)
        else:
            widened.append((low, high))
    return widened


def _fitting(candidates: list[int], free: list[_Micros], duration: int) -> list[int]:
    """The candidates `t` with `[t, t + duration)` inside one free interval; both sorted, so
    each free interval is two bisections and a slice."""
    starts: list[int] = []
    index = 0
    for free_start, free_end in free:
        index = bisect_left(candidates, free_start, index)
        last = bisect_right(candidates, free_end - duration, index)
        starts.extend(candidates[index:last])
        index = last
    return starts
