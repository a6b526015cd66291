"""Deterministic generator of the canonical slot-computation workload (stdlib only).

usage: python bench/workloads.py [--small] [--intervals N] [-o FILE]   (JSON to stdout by default)

Canonical (default): host zone Europe/Berlin; window 2026-10-12T00:00 local to 30 local days
later (2026-11-11T00:00; it crosses the 2026-10-25 DST change, +02:00 -> +01:00); weekly hours
Mon-Fri 09:00-17:00; meetings of 30 min; slot starts every 15 min; 5 calendars holding
10,000 timed busy intervals in all (2,000 each). `--small`: same, with 200 intervals (40 each),
for correctness checks. Seed 20261124 for both; same arguments -> byte-identical output.

This is the workload other schedulers are measured on: its output must stay byte for byte what
it is, so that figures compare across implementations (`bench/slots.py` reads it, and
`tests/scheduling/test_slots.py` holds C17's answer of 365 slots to it). Change nothing that
alters the random draws or the JSON text.

Busy intervals model a busy person with team calendars: each working day has 4-6 busy
blocks (starts 08:00-17:30 local at 5-minute resolution, 20-75 min long). 70% of the intervals
are meetings inside a random block on a random calendar (many overlap: the same team meetings
seen on several calendars); 30% lie outside working hours (evenings, nights, weekends; 15-180
min). So the work per interval is real, yet about half of the working-hours slots stay free.
Each calendar's list is sorted by start but not merged. (A uniform spread of 10,000 intervals
would cover working hours ~22 times and leave no free slot at all.)

JSON shape (times are ISO 8601 with an explicit offset; busy times are in UTC):
{
  "timezone": "Europe/Berlin",
  "start": "2026-10-12T00:00:00+02:00",          # window, inclusive
  "end": "2026-11-11T00:00:00+01:00",            # window, exclusive
  "weekly_hours": {"mon": [["09:00", "17:00"]], ..., "sat": [], "sun": []},   # local wall clock
  "duration_minutes": 30,
  "interval_minutes": 15,                        # distance between candidate slot starts
  "calendars": [{"id": "cal-1", "busy": [["2026-10-12T05:35:00+00:00", "..."], ...]}, ...]
}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

SEED = 20261124
TIMEZONE = "Europe/Berlin"
WINDOW_START_LOCAL = (2026, 10, 12)
WINDOW_DAYS = 30
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def generate(intervals: int = 10_000, calendars: int = 5, seed: int = SEED) -> dict[str, Any]:
    """The workload as a JSON-ready dict; the same arguments give the same dict."""
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    start = datetime(*WINDOW_START_LOCAL, tzinfo=tz)
    days = [start.date() + timedelta(days=i) for i in range(WINDOW_DAYS)]
    end = datetime.combine(days[-1] + timedelta(days=1), start.timetz().replace(tzinfo=None), tz)

    def at(day: date, minute: int) -> datetime:  # local wall clock -> aware UTC
        local = datetime.combine(day, datetime.min.time(), tz) + timedelta(minutes=minute)
        return local.replace(tzinfo=None).replace(tzinfo=tz).astimezone(UTC)

    blocks = []  # (day, start minute, end minute) in local wall clock
    for day in days:
        if day.weekday() < 5:
            for _ in range(rng.randint(4, 6)):
                b0 = 8 * 60 + 5 * rng.randrange(19 * 6 + 1)  # 08:00 .. 17:30
                blocks.append((day, b0, b0 + 5 * rng.randint(4, 15)))  # 20 .. 75 min
    busy: list[list[tuple[datetime, datetime]]] = [[] for _ in range(calendars)]
    inside = intervals * 7 // 10
    for i in range(intervals):
        if i < inside:
            day, b0, b1 = rng.choice(blocks)
            s0 = b0 + 5 * rng.randrange((b1 - b0) // 5)
            s1 = s0 + 5 * rng.randint(1, (b1 - s0) // 5)
        else:
            day = rng.choice(days)
            if day.weekday() < 5:  # evenings and nights: 18:00 .. 07:55 next morning
                s0 = 18 * 60 + 5 * rng.randrange(14 * 12)
            else:
                s0 = 5 * rng.randrange(24 * 12)
            s1 = s0 + 5 * rng.randint(3, 36)
            if day.weekday() < 5 and s1 > 24 * 60 + 8 * 60:
                s1 = 24 * 60 + 8 * 60
        busy[rng.randrange(calendars)].append((at(day, s0), at(day, s1)))
    cals = [
        {"id": f"cal-{c + 1}", "busy": [[a.isoformat(), b.isoformat()] for a, b in sorted(b)]}
        for c, b in enumerate(busy)
    ]
    return {
        "timezone": TIMEZONE,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "weekly_hours": {
            d: ([["09:00", "17:00"]] if d not in ("sat", "sun") else []) for d in DAYS
        },
        "duration_minutes": 30,
        "interval_minutes": 15,
        "calendars": cals,
    }


def dumps(workload: dict[str, Any]) -> str:
    """The canonical JSON text: compact separators, one trailing newline."""
    return json.dumps(workload, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--small", action="store_true", help="200 intervals instead of 10,000")
    p.add_argument("--intervals", type=int, help="override the number of busy intervals")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    a = p.parse_args(argv)
    n = a.intervals if a.intervals is not None else (200 if a.small else 10_000)
    text = dumps(generate(intervals=n))
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
