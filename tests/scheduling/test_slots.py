"""The availability engine (S8, S12, C17): examples named for the rule they prove, property
tests against a brute-force reading of the rules, and the canonical benchmark workload.

The brute force (`brute_force_starts`) walks every minute of the window with plain datetime
arithmetic and checks each rule of `slotgraph.scheduling.slots` literally, so it shares no code or
trick with the engine. Its one simplification: every input lies on whole minutes (hours,
busy times, `now`, zone transitions), which makes minute sampling exact.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from bench.slots import Query
from bench.slots import to_query
from bench.workloads import generate
from slotgraph.scheduling.intervals import Span
from slotgraph.scheduling.intervals import overlaps
from slotgraph.scheduling.rules import DateOverride
from slotgraph.scheduling.rules import Weekday
from slotgraph.scheduling.rules import WeeklyHours
from slotgraph.scheduling.rules import parse_hhmm
from slotgraph.scheduling.slots import Refusal
from slotgraph.scheduling.slots import Slot
from slotgraph.scheduling.slots import SlotRules
from slotgraph.scheduling.slots import compute_slots
from slotgraph.scheduling.slots import group_by_day
from slotgraph.scheduling.slots import refusal

WORKDAYS = tuple(Weekday)[:5]
MINUTE = dt.timedelta(minutes=1)


# --- helpers ---------------------------------------------------------------------------------


def weekly(start: str, end: str, days: Sequence[Weekday] = WORKDAYS) -> list[WeeklyHours]:
    return [WeeklyHours(day, parse_hhmm("hours", start), parse_hhmm("hours", end)) for day in days]


def at(zone: str, text: str, fold: int = 0) -> dt.datetime:
    """A wall-clock time in `zone` ('2026-06-01 09:00'), as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold)


def utc(text: str) -> dt.datetime:
    return at("UTC", text).astimezone(dt.UTC)


def walls(slots: list[Slot], zone: str, fmt: str = "%H:%M") -> list[str]:
    return [slot.start.astimezone(ZoneInfo(zone)).strftime(fmt) for slot in slots]


def day_of(zone: str, text: str) -> tuple[dt.datetime, dt.datetime]:
    """The window of one local date, '2026-06-01'."""
    day = dt.date.fromisoformat(text)
    return at(zone, f"{day} 00:00"), at(zone, f"{day + dt.timedelta(days=1)} 00:00")


def one_day(
    rules: SlotRules,
    day: str,
    *,
    busy: Sequence[Span[dt.datetime]] = (),
    bookings: Sequence[Span[dt.datetime]] = (),
    now: dt.datetime | None = None,
) -> list[Slot]:
    start, end = day_of(rules.time_zone, day)
    now = now if now is not None else start - dt.timedelta(days=1)
    return compute_slots(rules, now=now, start=start, end=end, busy=busy, bookings=bookings)


def utc_rules(**overrides: Any) -> SlotRules:
    """Weekdays 09:00-12:00 UTC, 30-minute meetings every 15 minutes, unless overridden."""
    values: dict[str, Any] = {
        "time_zone": "UTC",
        "weekly_hours": weekly("09:00", "12:00"),
        "duration_minutes": 30,
        "interval_minutes": 15,
    }
    return SlotRules(**(values | overrides))


# --- daylight saving time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "change", "first_utc_before", "first_utc_after"),
    [
        ("America/New_York", "2026-03-08", "14:00", "13:00"),
        ("America/New_York", "2026-11-01", "13:00", "14:00"),
        ("Europe/London", "2026-03-29", "09:00", "08:00"),
        ("Europe/London", "2026-10-25", "08:00", "09:00"),
    ],
)
def test_nine_to_five_stays_local_on_both_sides_of_a_dst_change(
    zone: str, change: str, first_utc_before: str, first_utc_after: str
) -> None:
    sunday = dt.date.fromisoformat(change)
    monday_before, saturday_after = sunday - dt.timedelta(days=6), sunday + dt.timedelta(days=6)
    rules = SlotRules(time_zone=zone, weekly_hours=weekly("09:00", "17:00"), duration_minutes=30)

    slots = compute_slots(
        rules,
        now=at(zone, f"{monday_before} 00:00") - dt.timedelta(days=1),
        start=at(zone, f"{monday_before} 00:00"),
        end=at(zone, f"{saturday_after} 00:00"),
    )

    days = group_by_day(slots, zone)
    assert {day: (walls(s, zone)[0], walls(s, zone)[-1], len(s)) for day, s in days} == {
        day: ("09:00", "16:30", 31)
        for day in (monday_before + dt.timedelta(days=n) for n in range(13))
        if day.weekday() < 5
    }
    assert {day: s[0].start.astimezone(dt.UTC).strftime("%H:%M") for day, s in days} == {
        day: first_utc_before if day < sunday else first_utc_after for day, _ in days
    }


def test_hours_across_the_spring_forward_gap_skip_the_missing_hour() -> None:
    # New York, 2026-03-08: 02:00 EST is followed by 03:00 EDT.
    rules = SlotRules(
        time_zone="America/New_York",
        weekly_hours=weekly("01:00", "04:00", [Weekday.SUNDAY]),
        duration_minutes=30,
    )

    slots = one_day(rules, "2026-03-08")

    assert walls(slots, "America/New_York", "%H:%M %Z") == [
        "01:00 EST",
        "01:15 EST",
        "01:30 EST",
        "01:45 EST",  # ends at 03:15 EDT: half an hour later in real time
        "03:00 EDT",
        "03:15 EDT",
        "03:30 EDT",
    ]


def test_hours_starting_in_the_gap_begin_when_the_clock_resumes() -> None:
    rules = SlotRules(
        time_zone="America/New_York",
        weekly_hours=weekly("02:30", "04:00", [Weekday.SUNDAY]),
        duration_minutes=30,
    )

    assert walls(one_day(rules, "2026-03-08"), "America/New_York") == ["03:00", "03:15", "03:30"]


def test_hours_across_the_fall_back_fold_offer_the_repeated_hour_twice() -> None:
    # New York, 2026-11-01: 01:00-02:00 happens in EDT, then again in EST.
    rules = SlotRules(
        time_zone="America/New_York",
        weekly_hours=weekly("01:00", "03:00", [Weekday.SUNDAY]),
        duration_minutes=30,
    )

    slots = one_day(rules, "2026-11-01")

    assert walls(slots, "America/New_York", "%H:%M %Z") == [
        "01:00 EDT",
        "01:15 EDT",
        "01:30 EDT",
        "01:45 EDT",
        "01:00 EST",
        "01:15 EST",
        "01:30 EST",
        "01:45 EST",
        "02:00 EST",
        "02:15 EST",
        "02:30 EST",
    ]
    assert slots[0].start == utc("2026-11-01 05:00")
    assert slots[4].start == utc("2026-11-01 06:00")


def test_hours_ending_in_the_fold_include_both_occurrences_of_their_wall_times() -> None:
    rules = SlotRules(
        time_zone="America/New_York",
        weekly_hours=weekly("00:00", "01:30", [Weekday.SUNDAY]),
        duration_minutes=30,
    )

    slots = one_day(rules, "2026-11-01")

    # 01:30-02:00 EDT is outside the hours, so 01:00 EDT is the last start of the first pass;
    # the second 01:00-01:30 (EST) is working time again.
    assert walls(slots, "America/New_York", "%H:%M %Z") == [
        "00:00 EDT",
        "00:15 EDT",
        "00:30 EDT",
        "00:45 EDT",
        "01:00 EDT",
        "01:00 EST",
    ]


def test_midnight_transitions_follow_the_wall_clock() -> None:
    # Santiago, 2026-09-06: midnight does not exist (00:00 -04 becomes 01:00 -03).
    rules = SlotRules(
        time_zone="America/Santiago",
        weekly_hours=weekly("00:00", "02:00", [Weekday.SUNDAY]),
        duration_minutes=60,
        interval_minutes=30,
    )

    slots = one_day(rules, "2026-09-06")

    assert walls(slots, "America/Santiago", "%H:%M %z") == ["01:00 -0300"]


# --- busy time, buffers, notice, window, limits ----------------------------------------------


def test_a_busy_interval_blocks_exactly_the_overlapping_slots() -> None:
    slots = one_day(
        utc_rules(), "2026-06-01", busy=[(utc("2026-06-01 10:10"), utc("2026-06-01 10:40"))]
    )

    # 09:45-10:15 ... 10:30-11:00 overlap 10:10-10:40; 10:45 starts after it ends.
    assert walls(slots, "UTC") == ["09:00", "09:15", "09:30", "10:45", "11:00", "11:15", "11:30"]


def test_busy_time_that_only_touches_a_slot_does_not_block_it() -> None:
    slots = one_day(
        utc_rules(), "2026-06-01", busy=[(utc("2026-06-01 10:00"), utc("2026-06-01 10:30"))]
    )

    assert walls(slots, "UTC") == [
        "09:00",
        "09:15",
        "09:30",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
    ]


def test_busy_time_from_several_calendars_is_combined() -> None:
    busy = [
        (utc("2026-06-01 11:00"), utc("2026-06-01 12:00")),  # calendar 2
        (utc("2026-06-01 09:00"), utc("2026-06-01 10:00")),  # calendar 1
        (utc("2026-06-01 09:30"), utc("2026-06-01 10:15")),  # calendar 3, overlapping 1
    ]

    assert walls(one_day(utc_rules(), "2026-06-01", busy=busy), "UTC") == ["10:15", "10:30"]


def test_buffers_keep_time_free_before_and_after_each_meeting() -> None:
    rules = utc_rules(buffer_before_minutes=15, buffer_after_minutes=10)
    busy = [(utc("2026-06-01 10:00"), utc("2026-06-01 10:30"))]

    slots = one_day(rules, "2026-06-01", busy=busy)

    # 09:15-09:45 keeps 09:45-09:55 free after it; 09:30-10:00 would leave only 0 of 10.
    # 10:45 is the first start with 15 minutes free before it (10:30-10:45).
    assert walls(slots, "UTC") == ["09:00", "09:15", "10:45", "11:00", "11:15", "11:30"]


def test_minimum_notice_hides_slots_starting_too_soon() -> None:
    rules = utc_rules(minimum_notice_minutes=60)

    assert walls(one_day(rules, "2026-06-01", now=utc("2026-06-01 09:07")), "UTC") == [
        "10:15",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
    ]
    assert walls(one_day(rules, "2026-06-01", now=utc("2026-06-01 09:00")), "UTC")[0] == "10:00"


def test_booking_window_rolls_from_now_and_limits_slot_starts() -> None:
    rules = utc_rules(
        weekly_hours=weekly("00:00", "24:00", list(Weekday)),
        duration_minutes=60,
        interval_minutes=60,
        booking_window_days=1,
    )

    slots = compute_slots(
        rules, now=utc("2026-06-01 08:30"), start=utc("2026-06-01 00:00"), end=utc("2026-06-05")
    )

    assert slots[0].start == utc("2026-06-01 09:00")
    # The last start lies before now + 24 h; the meeting itself may end after it.
    assert slots[-1] == Slot(utc("2026-06-02 08:00"), utc("2026-06-02 09:00"))
    assert len(slots) == 24


def test_a_zero_day_booking_window_offers_nothing() -> None:
    assert one_day(utc_rules(booking_window_days=0), "2026-06-01") == []


def test_bookings_are_busy_time() -> None:
    bookings = [(utc("2026-06-01 09:00"), utc("2026-06-01 11:00"))]

    assert walls(one_day(utc_rules(), "2026-06-01", bookings=bookings), "UTC") == [
        "11:00",
        "11:15",
        "11:30",
    ]


def test_max_meetings_per_day_closes_full_local_days() -> None:
    zone = "Europe/Berlin"
    rules = SlotRules(
        time_zone=zone,
        weekly_hours=weekly("09:00", "17:00"),
        duration_minutes=30,
        interval_minutes=30,
        max_meetings_per_day=2,
    )
    bookings = [
        (at(zone, "2026-06-02 10:00"), at(zone, "2026-06-02 10:30")),  # Tuesday: two
        (at(zone, "2026-06-02 14:00"), at(zone, "2026-06-02 14:30")),
        (at(zone, "2026-06-03 09:00"), at(zone, "2026-06-03 09:30")),  # Wednesday: one
        # Thursday in Berlin, though still Wednesday in UTC: the host's date counts.
        (utc("2026-06-03 22:00"), utc("2026-06-03 22:30")),
        (utc("2026-06-03 23:00"), utc("2026-06-03 23:30")),
    ]

    slots = compute_slots(
        rules,
        now=utc("2026-05-31 00:00"),
        start=at(zone, "2026-06-01 00:00"),
        end=at(zone, "2026-06-06 00:00"),
        bookings=bookings,
    )

    per_day = {day.isoformat(): len(day_slots) for day, day_slots in group_by_day(slots, zone)}
    assert per_day == {"2026-06-01": 16, "2026-06-03": 15, "2026-06-05": 16}


def test_a_limit_of_zero_meetings_per_day_offers_nothing() -> None:
    assert one_day(utc_rules(max_meetings_per_day=0), "2026-06-01") == []


# --- hours, overrides and the grid -----------------------------------------------------------


def test_date_override_replaces_the_weekly_hours_of_that_date() -> None:
    rules = utc_rules(
        date_overrides=[
            DateOverride(dt.date(2026, 6, 3), ((dt.time(13), dt.time(14)),)),
            DateOverride(dt.date(2026, 6, 6), ((dt.time(10), dt.time(11)),)),  # a Saturday
        ]
    )

    assert walls(one_day(rules, "2026-06-03"), "UTC") == ["13:00", "13:15", "13:30"]
    assert walls(one_day(rules, "2026-06-06"), "UTC") == ["10:00", "10:15", "10:30"]
    assert len(one_day(rules, "2026-06-04")) == 11


def test_date_override_without_intervals_closes_the_day() -> None:
    rules = utc_rules(date_overrides=[DateOverride(dt.date(2026, 6, 3), ())])

    slots = compute_slots(
        rules, now=utc("2026-05-31"), start=utc("2026-06-02"), end=utc("2026-06-05")
    )

    assert [day.isoformat() for day, _ in group_by_day(slots, "UTC")] == [
        "2026-06-02",
        "2026-06-04",
    ]


def test_slot_starts_are_aligned_to_the_grid() -> None:
    rules = utc_rules(weekly_hours=weekly("10:05", "11:00"))
    busy = [(utc("2026-06-02 10:00"), utc("2026-06-02 10:20"))]

    assert walls(one_day(rules, "2026-06-01"), "UTC") == ["10:15", "10:30"]
    # 09:30-10:00 only touches the busy time; after it the grid resumes at 10:30, not 10:20.
    assert walls(one_day(utc_rules(), "2026-06-02", busy=busy), "UTC") == [
        "09:00",
        "09:15",
        "09:30",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
    ]


def test_grid_counts_from_local_midnight_not_from_the_start_of_the_hours() -> None:
    rules = utc_rules(weekly_hours=weekly("09:00", "11:00"), interval_minutes=25)

    # 09:10 is 550 minutes after midnight, the first multiple of 25 inside the hours.
    assert walls(one_day(rules, "2026-06-01"), "UTC") == ["09:10", "09:35", "10:00", "10:25"]


def test_meetings_may_run_over_midnight_into_the_next_working_day() -> None:
    rules = utc_rules(
        weekly_hours=[
            WeeklyHours(Weekday.MONDAY, dt.time(22), dt.time.max),
            WeeklyHours(Weekday.TUESDAY, dt.time(0), dt.time(2)),
        ],
        duration_minutes=60,
        interval_minutes=30,
    )

    slots = compute_slots(
        rules, now=utc("2026-05-31"), start=utc("2026-06-01"), end=utc("2026-06-03")
    )

    assert walls(slots, "UTC", "%a %H:%M") == [
        "Mon 22:00",
        "Mon 22:30",
        "Mon 23:00",
        "Mon 23:30",
        "Tue 00:00",
        "Tue 00:30",
        "Tue 01:00",
    ]


def test_slots_are_grouped_by_the_invitees_date() -> None:
    rules = utc_rules(
        weekly_hours=weekly("22:00", "24:00"), duration_minutes=60, interval_minutes=60
    )
    slots = one_day(rules, "2026-06-01")

    grouped = group_by_day(slots, "Asia/Tokyo")  # UTC+9: 22:00 UTC is 07:00 the next day

    assert grouped == [(dt.date(2026, 6, 2), slots)]
    assert [(day, len(day_slots)) for day, day_slots in group_by_day(slots, "UTC")] == [
        (dt.date(2026, 6, 1), 2)
    ]


def test_rules_refuse_negative_settings_and_unknown_zones() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        utc_rules(buffer_before_minutes=-5)
    with pytest.raises(ValueError, match="at least one minute"):
        utc_rules(interval_minutes=0)
    with pytest.raises(ValueError, match="IANA"):
        utc_rules(time_zone="Mars/Olympus_Mons")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compute_slots(
            utc_rules(), now=dt.datetime(2026, 6, 1), start=utc("2026-06-01"), end=utc("2026-06-02")
        )


# --- the canonical workload (bench/workloads.py, C17) ------------------------------------------


def run(query: Query) -> list[Slot]:
    return compute_slots(
        query.rules, now=query.now, start=query.start, end=query.end, busy=query.busy
    )


def test_canonical_workload_offers_365_free_slots() -> None:
    query = to_query(generate())
    assert len(query.busy) == 10_000

    slots = run(query)

    assert len(slots) == 365
    assert all(slot.end - slot.start == dt.timedelta(minutes=30) for slot in slots)
    assert all(slot.start.astimezone(ZoneInfo("Europe/Berlin")).minute % 15 == 0 for slot in slots)


def test_small_workload_matches_the_brute_force_reading_of_the_rules() -> None:
    # `--small` is the same window and hours with 200 busy intervals: deterministic too, and
    # small enough to check minute by minute.
    query = to_query(generate(intervals=200))

    slots = run(query)

    assert [slot.start for slot in slots] == brute_force_starts(
        query.rules, query.now, query.start, query.end, query.busy, []
    )
    assert len(slots) == 507


# --- properties ------------------------------------------------------------------------------


def brute_force_starts(
    rules: SlotRules,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    busy: Sequence[Span[dt.datetime]],
    bookings: Sequence[Span[dt.datetime]],
) -> list[dt.datetime]:
    """Every whole minute of the window checked against each rule of the module docstring."""
    zone = ZoneInfo(rules.time_zone)
    first = max(start, now + rules.minimum_notice_minutes * MINUTE)
    stop = end
    if rules.booking_window_days is not None:
        stop = min(stop, now + dt.timedelta(days=rules.booking_window_days))
    duration = rules.duration_minutes * MINUTE
    before = rules.buffer_before_minutes * MINUTE
    after = rules.buffer_after_minutes * MINUTE
    blocked = [*busy, *bookings]
    per_day = Counter(booking_start.astimezone(zone).date() for booking_start, _ in bookings)

    def is_working(instant: dt.datetime) -> bool:
        local = instant.astimezone(zone)
        wall = local.hour * 60 + local.minute
        return any(begin <= wall < finish for begin, finish in hours_on(rules, local.date()))

    starts = []
    instant = first.astimezone(dt.UTC)
    while instant < stop:
        local = instant.astimezone(zone)
        if (
            (local.hour * 60 + local.minute) % rules.interval_minutes == 0
            and (
                rules.max_meetings_per_day is None
                or per_day[local.date()] < rules.max_meetings_per_day
            )
            and all(is_working(instant + n * MINUTE) for n in range(rules.duration_minutes))
            and not any(
                overlaps((instant - before, instant + duration + after), busy_interval)
                for busy_interval in blocked
            )
        ):
            starts.append(instant)
        instant += MINUTE
    return starts


def hours_on(rules: SlotRules, day: dt.date) -> list[tuple[int, int]]:
    """That date's hours in minutes after midnight (24:00 is 1440)."""

    def minutes(value: dt.time) -> int:
        return 1440 if value == dt.time.max else value.hour * 60 + value.minute

    for override in rules.date_overrides:
        if override.date == day:
            return [(minutes(a), minutes(b)) for a, b in override.intervals]
    return [
        (minutes(hours.start), minutes(hours.end))
        for hours in rules.weekly_hours
        if hours.weekday == day.weekday()
    ]


# Zones with their 2026 offset changes, including 30-minute DST (Lord Howe) and changes at
# midnight (Santiago, Havana).
ZONES = {
    "UTC": ["2026-06-01"],
    "Asia/Kolkata": ["2026-06-01"],
    "America/New_York": ["2026-03-08", "2026-11-01"],
    "Europe/London": ["2026-03-29", "2026-10-25"],
    "Australia/Lord_Howe": ["2026-04-05", "2026-10-04"],
    "America/Santiago": ["2026-04-05", "2026-09-06"],
    "America/Havana": ["2026-03-08", "2026-11-01"],
}


@dataclass(frozen=True)
class Case:
    rules: SlotRules
    now: dt.datetime
    start: dt.datetime
    end: dt.datetime
    busy: list[Span[dt.datetime]]
    bookings: list[Span[dt.datetime]]

    def slots(self) -> list[Slot]:
        return compute_slots(
            self.rules,
            now=self.now,
            start=self.start,
            end=self.end,
            busy=self.busy,
            bookings=self.bookings,
        )


def day_hours(min_size: int = 0) -> st.SearchStrategy[tuple[tuple[dt.time, dt.time], ...]]:
    """Up to 2 disjoint intervals of a day on 5-minute marks, 24:00 included."""

    def as_time(mark: int) -> dt.time:
        return dt.time.max if mark == 288 else dt.time(mark // 12, mark % 12 * 5)

    def pairs(marks: list[int]) -> tuple[tuple[dt.time, dt.time], ...]:
        ordered = sorted(marks)
        return tuple(
            (as_time(a), as_time(b)) for a, b in zip(ordered[::2], ordered[1::2], strict=False)
        )

    return st.lists(st.integers(0, 288), unique=True, min_size=min_size, max_size=4).map(pairs)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone_name = draw(st.sampled_from(sorted(ZONES)))
    change = dt.date.fromisoformat(draw(st.sampled_from(ZONES[zone_name])))
    zone = ZoneInfo(zone_name)
    # Windows around the local midnight that starts the day of an offset change, so that
    # most of them contain the change.
    midnight = dt.datetime.combine(change, dt.time(), zone).astimezone(dt.UTC)
    start = midnight - draw(st.integers(0, 432)) * 5 * MINUTE
    end = midnight + draw(st.integers(0, 576)) * 5 * MINUTE
    span = int((end - start) / MINUTE)

    weekly_hours = [
        WeeklyHours(day, begin, finish)
        for day in Weekday
        for begin, finish in draw(day_hours(min_size=2))
    ]
    local_days = sorted(
        {(start + n * dt.timedelta(hours=12)).astimezone(zone).date() for n in range(8)}
    )
    override_days = draw(st.lists(st.sampled_from(local_days), unique=True, max_size=2))
    overrides = [DateOverride(day, draw(day_hours())) for day in override_days]

    def intervals(max_size: int) -> list[Span[dt.datetime]]:
        offsets = st.tuples(st.integers(-180, span + 180), st.integers(1, 180))
        return [
            (start + offset * MINUTE, start + (offset + length) * MINUTE)
            for offset, length in draw(st.lists(offsets, max_size=max_size))
        ]

    rules = SlotRules(
        time_zone=zone_name,
        weekly_hours=weekly_hours,
        date_overrides=overrides,
        duration_minutes=draw(st.sampled_from([5, 15, 30, 45, 60, 90])),
        interval_minutes=draw(st.sampled_from([5, 10, 15, 20, 25, 30, 45, 60])),
        buffer_before_minutes=draw(st.integers(0, 6)) * 5,
        buffer_after_minutes=draw(st.integers(0, 6)) * 5,
        minimum_notice_minutes=draw(st.sampled_from([0, 0, 0, 30, 240])),
        booking_window_days=draw(st.sampled_from([None, None, None, 1, 2, 0])),
        max_meetings_per_day=draw(st.sampled_from([None, None, 1, 2])),
    )
    now = start + draw(st.integers(-2 * 288, 72)) * 5 * MINUTE
    return Case(rules, now, start, end, intervals(20), intervals(4))


@given(cases())
@settings(deadline=None)
def test_no_offered_slot_overlaps_busy_time_or_bookings_with_the_buffers(case: Case) -> None:
    before = case.rules.buffer_before_minutes * MINUTE
    after = case.rules.buffer_after_minutes * MINUTE
    for slot in case.slots():
        guarded = (slot.start - before, slot.end + after)
        assert not any(overlaps(guarded, busy) for busy in case.busy + case.bookings)


@given(cases())
@settings(deadline=None)
def test_every_offered_slot_lies_in_working_hours_and_the_booking_limits(case: Case) -> None:
    rules, zone = case.rules, ZoneInfo(case.rules.time_zone)
    slots = case.slots()
    notice = rules.minimum_notice_minutes * MINUTE
    for slot in slots:
        assert slot.end - slot.start == rules.duration_minutes * MINUTE
        assert case.start <= slot.start < case.end
        assert slot.start >= case.now + notice
        if rules.booking_window_days is not None:
            assert slot.start < case.now + dt.timedelta(days=rules.booking_window_days)
        for n in range(rules.duration_minutes):
            local = (slot.start + n * MINUTE).astimezone(zone)
            wall = local.hour * 60 + local.minute
            assert any(a <= wall < b for a, b in hours_on(rules, local.date())), local
        local_start = slot.start.astimezone(zone)
        assert (local_start.hour * 60 + local_start.minute) % rules.interval_minutes == 0
    assert [slot.start for slot in slots] == sorted({slot.start for slot in slots})


@given(cases())
@settings(deadline=None, max_examples=200)
def test_offered_slots_are_exactly_those_the_rules_allow(case: Case) -> None:
    assert [slot.start for slot in case.slots()] == brute_force_starts(
        case.rules, case.now, case.start, case.end, case.busy, case.bookings
    )


# --- why a start is refused --------------------------------------------------------------------


@given(cases(), st.data())
@settings(deadline=None, max_examples=200)
def test_a_start_is_refused_exactly_when_it_is_not_offered(case: Case, data: st.DataObject) -> None:
    """`refusal` and `compute_slots` never disagree: None for every offered start, a reason
    for every other minute of the window (and for off-grid seconds)."""
    offered = {slot.start for slot in case.slots()}
    span = int((case.end - case.start) / MINUTE)
    minutes = data.draw(st.lists(st.integers(0, max(span - 1, 0)), max_size=40))
    probes = {case.start + n * MINUTE for n in minutes} | offered
    probes |= {start + dt.timedelta(seconds=30) for start in offered}
    for start in probes:
        if not case.start <= start < case.end:
            continue
        reason = refusal(
            case.rules, now=case.now, start=start, busy=case.busy, bookings=case.bookings
        )
        assert (reason is None) == (start in offered), (start, reason)


@given(cases(), st.data())
@settings(deadline=None, max_examples=200)
def test_each_refusal_names_a_rule_the_start_breaks(case: Case, data: st.DataObject) -> None:
    rules, zone = case.rules, ZoneInfo(case.rules.time_zone)
    span = int((case.end - case.start) / MINUTE)
    start = case.start + data.draw(st.integers(0, max(span - 1, 0))) * MINUTE
    reason = refusal(rules, now=case.now, start=start, busy=case.busy, bookings=case.bookings)
    local = start.astimezone(zone)
    notice = rules.minimum_notice_minutes * MINUTE
    if reason is Refusal.IN_THE_PAST:
        assert start < case.now
    elif reason is Refusal.MINIMUM_NOTICE:
        assert case.now <= start < case.now + notice
    elif reason is Refusal.BEYOND_BOOKING_WINDOW:
        assert rules.booking_window_days is not None
        assert start >= case.now + dt.timedelta(days=rules.booking_window_days)
    elif reason is Refusal.OUTSIDE_HOURS:
        minutes = ((start + n * MINUTE).astimezone(zone) for n in range(rules.duration_minutes))
        assert not all(
            any(a <= m.hour * 60 + m.minute < b for a, b in hours_on(rules, m.date()))
            for m in minutes
        )
    elif reason is Refusal.OFF_GRID:
        assert (local.hour * 60 + local.minute) % rules.interval_minutes != 0
    elif reason is Refusal.DAY_FULL:
        assert rules.max_meetings_per_day is not None
        same_day = [b for b in case.bookings if b[0].astimezone(zone).date() == local.date()]
        assert len(same_day) >= rules.max_meetings_per_day
    elif reason is Refusal.TAKEN:
        before = rules.buffer_before_minutes * MINUTE
        after = rules.buffer_after_minutes * MINUTE
        guarded = (start - before, start + rules.duration_minutes * MINUTE + after)
        assert any(overlaps(guarded, busy) for busy in case.busy + case.bookings)


def test_refusals_say_which_rule_a_start_breaks() -> None:
    rules = SlotRules(
        time_zone="Europe/Paris",
        weekly_hours=weekly("09:00", "12:00"),
        duration_minutes=30,
        interval_minutes=15,
        minimum_notice_minutes=60,
        booking_window_days=14,
        max_meetings_per_day=2,
    )
    now = at("Europe/Paris", "2030-01-07 08:00")  # a Monday
    taken = (at("Europe/Paris", "2030-01-08 10:00"), at("Europe/Paris", "2030-01-08 10:30"))
    full = [
        (at("Europe/Paris", "2030-01-09 09:00"), at("Europe/Paris", "2030-01-09 09:30")),
        (at("Europe/Paris", "2030-01-09 11:00"), at("Europe/Paris", "2030-01-09 11:30")),
    ]

    def why(text: str) -> Refusal | None:
        start = at("Europe/Paris", text)
        return refusal(rules, now=now, start=start, busy=[taken], bookings=full)

    assert why("2030-01-07 07:45") is Refusal.IN_THE_PAST
    assert why("2030-01-07 08:45") is Refusal.MINIMUM_NOTICE
    assert why("2030-01-22 09:00") is Refusal.BEYOND_BOOKING_WINDOW
    assert why("2030-01-08 13:00") is Refusal.OUTSIDE_HOURS
    assert why("2030-01-08 11:45") is Refusal.OUTSIDE_HOURS  # would run past 12:00
    assert why("2030-01-12 10:00") is Refusal.OUTSIDE_HOURS  # a Saturday
    assert why("2030-01-08 09:10") is Refusal.OFF_GRID
    assert why("2030-01-09 10:00") is Refusal.DAY_FULL
    assert why("2030-01-08 10:15") is Refusal.TAKEN
    assert why("2030-01-08 09:30") is None
