"""Validation of a page's scheduling rules: weekly hours, overrides, durations, limits.

Everything here is pure and raises `RuleError(field, message)` with a message that tells
the caller what would be accepted. A form checks all its fields before it answers
(`Problems`), so the caller learns every invalid field at once (`RuleErrors`).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError
from zoneinfo import available_timezones


class RuleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.problems: tuple[tuple[str, str], ...] = ((field, message),)


class RuleErrors(RuleError):
    """Several broken rules of one form, found together; the first is `field`/`message`."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        super().__init__(errors[0].field, errors[0].message)
        self.problems = tuple(problem for error in errors for problem in error.problems)


class Problems:
    """The rule errors of one form, collected so it is answered with all of them at once:
    each field's check runs under `field()`, and `check()` raises what they found."""

    def __init__(self) -> None:
        self.errors: list[RuleError] = []

    @contextmanager
    def field(self) -> Iterator[None]:
        try:
            yield
        except RuleError as exc:
            self.errors.append(exc)

    def add(self, field: str, message: str) -> None:
        self.errors.append(RuleError(field, message))

    def check(self) -> None:
        if self.errors:
            raise RuleErrors(self.errors)


class Weekday(enum.IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Bookable hours on one weekday, in the page's time zone, as `[start, end)`."""

    weekday: Weekday
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Replaces the weekly hours on one date; no intervals means unavailable all day."""

    date: dt.date
    intervals: tuple[tuple[dt.time, dt.time], ...]


DEFAULT_WEEKLY_HOURS = tuple(WeeklyHours(day, dt.time(9), dt.time(17)) for day in list(Weekday)[:5])
ALLOWED_DURATIONS = range(5, 12 * 60 + 1)
MAX_DURATIONS = 6


def parse_hhmm(field: str, value: str) -> dt.time:
    """'09:30' → time(9, 30); '24:00' is the end of the day."""
    try:
        hours_text, minutes_text = value.split(":")
        hours, minutes = int(hours_text), int(minutes_text)
    except ValueError:
        raise RuleError(field, f"{value!r} is not a time; use HH:MM, e.g. '09:30'") from None
    if (hours, minutes) == (24, 0):
        return dt.time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise RuleError(field, f"{value!r} is not a time of day; use 00:00 to 24:00")
    return dt.time(hours, minutes)


def format_hhmm(value: dt.time) -> str:
    return "24:00" if value == dt.time.max else value.strftime("%H:%M")


def check_intervals(field: str, intervals: list[tuple[dt.time, dt.time]]) -> None:
    ordered = sorted(intervals)
    for start, end in ordered:
        if start >= end:
            raise RuleError(field, f"{format_hhmm(start)}–{format_hhmm(end)} ends before it starts")
    for (_, end), (next_start, _) in itertools.pairwise(ordered):
        if next_start < end:
            raise RuleError(field, "intervals on the same day overlap; merge them")


def check_weekly_hours(hours: list[WeeklyHours]) -> None:
    if len(hours) > 7 * 8:
        raise RuleError("weeklyHours", "at most 8 intervals per weekday")
    for day in Weekday:
        check_intervals("weeklyHours", [(h.start, h.end) for h in hours if h.weekday == day])


def check_date_overrides(overrides: list[DateOverride]) -> None:
    if len(overrides) > 366:
        raise RuleError("dateOverrides", "at most 366 date overrides")
    seen: set[dt.date] = set()
    for override in overrides:
        if override.date in seen:
            raise RuleError("dateOverrides", f"{override.date} appears twice; give it once")
        seen.add(override.date)
        check_intervals("dateOverrides", list(override.intervals))


def check_durations(durations: list[int]) -> list[int]:
    if not durations:
        raise RuleError("durations", "give at least one meeting duration in minutes")
    if len(durations) > MAX_DURATIONS:
        raise RuleError("durations", f"at most {MAX_DURATIONS} durations")
    for minutes in durations:
        if minutes not in ALLOWED_DURATIONS:
            raise RuleError("durations", "durations are 5 to 720 minutes")
    return sorted(set(durations))


def check_range(field: str, value: int, low: int, high: int, unit: str) -> int:
    if not low <= value <= high:
        raise RuleError(field, f"must be between {low} and {high} {unit}")
    return value


MAX_ZONE_NAME = 64
"""IANA names are at most 32 characters ('America/Argentina/ComodRivadavia')."""


def check_time_zone(field: str, name: str) -> str:
    """An IANA zone name such as 'Europe/London' (convention 4). zoneinfo reads a name as a
    file path: a long one fails with OSError (file name too long) and an odd one with
    ValueError, so a name is bounded first and every failure of the look-up is the caller's."""
    if name not in _zone_names():
        try:
            if len(name) > MAX_ZONE_NAME:
                raise ValueError(name)
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            shown = name if len(name) <= MAX_ZONE_NAME else name[:MAX_ZONE_NAME] + "…"
            raise RuleError(
                field, f"{shown!r} is not an IANA time zone; use e.g. 'America/New_York'"
            ) from None
    return name


@functools.cache
def _zone_names() -> frozenset[str]:
    """Read once: `available_timezones()` walks the zone database on disk."""
    return frozenset(available_timezones())
