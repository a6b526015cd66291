"""What a booking page shows, worked out from the request and the API's answers: the
contact's zone and duration, the month grid with the days that have slots, links that keep
the visitor's choices. Pure: no I/O, so the views stay short."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from slotgraph.scheduling.rules import RuleError
from slotgraph.scheduling.rules import check_time_zone

# Offered in the zone select besides the host's and the visitor's own (with JavaScript the
# browser's zone is picked; without it the visitor chooses).
COMMON_ZONES = (
    "UTC",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Pacific/Auckland",
    "Pacific/Honolulu",
)


def valid_zone(name: str | None) -> str | None:
    """The visitor's zone when it is an IANA name, else None (the page's zone is used).
    The one zone rule (`check_time_zone`) reads the zone list once, not per request: walking
    tzdata on every page view cost 10–28 ms of the page's 30 ms budget (BENCHMARKS.md)."""
    if not name:
        return None
    try:
        return check_time_zone("tz", name)
    except RuleError:
        return None


def parse_month(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(text or "", "%Y-%m").date()
    except ValueError:
        return None


def parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


def parse_start(text: str | None) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True)
class Choices:
    """The visitor's choices, carried in every link and form of the page."""

    lang: str
    zone: str
    duration: int
    month: dt.date  # its first day
    carry: tuple[tuple[str, str], ...] = ()  # e.g. the manage token, kept in every link

    def query(self, **more: Any) -> str:
        values: dict[str, Any] = {
            **dict(self.carry),
            "lang": self.lang,
            "tz": self.zone,
            "duration": self.duration,
            "month": self.month.strftime("%Y-%m"),
            **more,
        }
        return "?" + urlencode({k: v for k, v in values.items() if v is not None})

    def month_range(self) -> tuple[dt.datetime, dt.datetime]:
        zone = ZoneInfo(self.zone)
        start = dt.datetime.combine(self.month, dt.time(), zone)
        end = dt.datetime.combine(shift_month(self.month, 1), dt.time(), zone)
        return start, end


def shift_month(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_weeks(first: dt.date) -> list[list[dt.date | None]]:
    """The month's weeks, Monday first; None outside the month."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    return [[day if day.month == first.month else None for day in week] for week in weeks]


def zone_choices(*zones: str) -> list[str]:
    return sorted({*COMMON_ZONES, *zones})


def slots_by_day(days: list[dict[str, Any]]) -> dict[dt.date, list[dt.datetime]]:
    """The API's `days { date starts }`, typed."""
    found: dict[dt.date, list[dt.datetime]] = {}
    for day in days:
        starts = [dt.datetime.fromisoformat(start) for start in day["starts"]]
        if starts:
            found[dt.date.fromisoformat(day["date"])] = starts
    return found
