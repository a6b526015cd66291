"""Booking page benchmark: server render time, bytes, and time until the slots are interactive
in Chromium, for the canonical workload.

The page is the host's booking page (C18) for the canonical workload of `bench/workloads.py`
(Europe/Berlin, 30-minute meetings on a 15-minute grid, 5 calendars holding 10,000 busy
intervals), seeded as `bench/slots_http.py` seeds it: the busy intervals in a warm busy cache
(`slotgraph.calendars.busy_cache.store`) covering the whole month the page shows, so no
provider is called (the connection has no credential: a provider call would fail the run).
The page shown is October 2026 with the window's first day, 2026-10-12, chosen: the month
grid asks `availableSlots` for the whole month, and the chosen day lists its slots.

Served by one uvicorn process (a separate process from this client, like `bench/slots.py`'s
HTTP half: the real application from `create_app` in production mode, with a fixed clock a
day before the window, C17) on loopback, with the load-test limit settings `LOAD_LIMITS` of
`bench/serve.py` (C33: every request comes from 127.0.0.1), printed with the figures.

1. Server time: sequential GETs of the page over one keep-alive HTTP/1.1 connection, from
   sending the request to the whole body read; each must list the chosen day's slots exactly
   as the engine computes them. Interleaved with the `availableSlots` POST the page makes for
   the same month (the API alone), so the page's cost over the API is a ratio within one run.
   Target: page p50 <= 30 ms with the warm busy cache.
2. Bytes: the page's HTML, the CSS and the JS it links, uncompressed and gzip (level 6; the
   app itself does not compress), for the day view and with a slot chosen (the form).
   Limit: 60 KB uncompressed per page with its CSS and JS.
3. Chromium (Debian's, driven by Playwright as in tests/browser): each run a fresh browser
   context (empty cache: a first visit) in Europe/Berlin, en-US. From the navigation start
   (Navigation Timing): the HTML received, DOMContentLoaded (the server-rendered slot links
   are in the document and the deferred pages.js has run: slots are clickable, enhanced),
   first contentful paint, load, and live (`html[data-live=on]`: the websocket subscription
   to availabilityChanged answered, so the list follows other bookings).

Run from the repository root: `.venv/bin/python bench/pages.py` or
`.venv/bin/python -m bench.pages` (`--runs`, `--warmup`, `--browser-runs`,
`--browser-warmup`, `--small` for the 200-interval workload). Uses `DATABASE_URL` when set
(a server where it may create a database), else the embedded PostgreSQL. Exits non-zero if
an answer is wrong (a status other than 200, slots differing from the engine's); a missed
target only says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import gzip
import os
import platform
import re
import tempfile
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from bench import slots_http
from bench import workloads
from bench.graphql_overhead import HOST
from bench.graphql_overhead import BenchError
from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import postgres_server
from bench.graphql_overhead import run_server
from bench.graphql_overhead import wait_until_ready
from bench.serve import LOAD_LIMITS
from bench.serve import free_port
from bench.slots import Figures
from bench.slots import command
from bench.slots import to_query
from slotgraph.scheduling.slots import compute_slots

TARGET_MS = 30.0
LIMIT_BYTES = 60 * 1024
MONTH = dt.date(2026, 10, 1)  # the month the page shows; the window starts on the 12th
DAY = dt.date(2026, 10, 12)
LOCALE = "en-US"
DAY_VIEW = "day view"
ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"')
SLOT = re.compile(r'<li data-start="([^"]+)"')
LIVE_OBSERVER = """
new MutationObserver(() => {
  if (document.documentElement && document.documentElement.dataset.live === "on"
      && window.__liveAt === undefined) {
    window.__liveAt = performance.now();
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ["data-live"]});
"""
TIMINGS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {
    "HTML received": nav.responseEnd,
    "DOMContentLoaded (slots clickable, JS run)": nav.domContentLoadedEventEnd,
    "first contentful paint": paint ? paint.startTime : -1,
    "load": nav.loadEventEnd,
    "live (websocket subscribed)": window.__liveAt,
    "slots listed": document.querySelectorAll("li[data-start] a").length,
  };
}
"""


@dataclass(frozen=True)
class Target:
    """What the page must show: its path and the engine's answer for it."""

    path: str
    day_starts: list[dt.datetime]  # the chosen day's slots
    month_slots: int  # what availableSlots answers for the month
    api_variables: dict[str, Any]


@dataclass(frozen=True)
class Size:
    name: str
    raw: int
    gzipped: int


def month_window(zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The month the page asks `availableSlots` for (`Choices.month_range`)."""
    tz = ZoneInfo(zone)
    return (
        dt.datetime.combine(MONTH, dt.time(), tz),
        dt.datetime.combine(dt.date(MONTH.year, MONTH.month + 1, 1), dt.time(), tz),
    )


def page_query(zone: str, duration: int, **more: str) -> str:
    values = {"lang": "en", "tz": zone, "duration": duration, "month": f"{MONTH:%Y-%m}"}
    return "?" + urlencode({**values, "date": DAY.isoformat(), **more})


async def measure_render(
    http: httpx.AsyncClient, target: Target, *, runs: int, warmup: int
) -> tuple[list[float], list[float]]:
    """(page ms, availableSlots ms), one of each in turn, after `warmup` of each."""
    body = {"query": slots_http.SLOTS, "variables": target.api_variables}
    page_ms: list[float] = []
    api_ms: list[float] = []
    for index in range(warmup + runs):
        began = time.perf_counter_ns()
        response = await http.get(target.path, timeout=30)
        html = response.text
        elapsed = (time.perf_counter_ns() - began) / 1e6
        check_page(response, html, target)
        if index >= warmup:
            page_ms.append(elapsed)
        began = time.perf_counter_ns()
        answer = (await http.post("/graphql", json=body, timeout=30)).json()
        elapsed = (time.perf_counter_ns() - began) / 1e6
        result = answer.get("data", {}).get("availableSlots") or {}
        count = sum(len(day["slots"]) for day in result.get("days", []))
        if count != target.month_slots:
            raise BenchError(f"availableSlots: {count} slots, expected {target.month_slots}")
        if index >= warmup:
            api_ms.append(elapsed)
    return page_ms, api_ms


def check_page(response: httpx.Response, html: str, target: Target) -> None:
    starts = [dt.datetime.fromisoformat(found) for found in SLOT.findall(html)]
    if response.status_code != 200 or starts != target.day_starts:
        raise BenchError(
            f"booking page: status {response.status_code}, {len(starts)} slots listed, "
            f"expected {len(target.day_starts)}: {html[:2000]}"
        )


async def measure_bytes(http: httpx.AsyncClient, target: Target) -> dict[str, list[Size]]:
    """Each page variant's HTML and the assets it links."""
    first = urlencode({"start": target.day_starts[0].isoformat()})
    variants = {DAY_VIEW: target.path, "slot chosen (form)": f"{target.path}&{first}"}
    found: dict[str, list[Size]] = {}
    for name, path in variants.items():
        response = await http.get(path)
        if response.status_code != 200 or ('name="email"' in response.text) != (name != DAY_VIEW):
            raise BenchError(f"{name}: status {response.status_code}: {response.text[:2000]}")
        sizes = [Size("HTML", len(response.content), len(gzip.compress(response.content, 6)))]
        for asset in ASSET.findall(response.text):
            answer = await http.get(asset)
            if answer.status_code != 200:
                raise BenchError(f"{asset}: status {answer.status_code}")
            sizes.append(Size(asset, len(answer.content), len(gzip.compress(answer.content, 6))))
        found[name] = sizes
    return found


async def measure_browser(
    base: str, target: Target, zone: str, *, runs: int, warmup: int
) -> dict[str, list[float]]:
    """Milliseconds from the navigation start to each moment, per fresh-context visit."""
    from tests.helpers.browser import chromium  # the browser tests' launch flags (NOTES)

    figures: dict[str, list[float]] = {}
    async with chromium() as browser:
        for index in range(warmup + runs):
            context = await browser.new_context(locale=LOCALE, timezone_id=zone)
            try:
                page = await context.new_page()
                await page.add_init_script(LIVE_OBSERVER)
                await page.goto(base + target.path, wait_until="load")
                await page.wait_for_selector("html[data-live=on]", timeout=15_000)
                await page.wait_for_function("window.__liveAt !== undefined", timeout=5_000)
                moments: dict[str, float] = await page.evaluate(TIMINGS)
            finally:
                await context.close()
            listed = moments.pop("slots listed")
            if listed != len(target.day_starts):
                raise BenchError(f"Chromium: {listed} slots, expected {len(target.day_starts)}")
            if index >= warmup:
                for name, value in moments.items():
                    figures.setdefault(name, []).append(value)
    return figures


def engine_target(workload: dict[str, Any], slug: str) -> Target:
    """The page's path and what the engine says it must show."""
    query = to_query(workload)
    zone = query.rules.time_zone
    start, end = month_window(zone)
    slots = compute_slots(query.rules, now=query.now, start=start, end=end, busy=query.busy)
    tz = ZoneInfo(zone)
    duration = query.rules.duration_minutes
    return Target(
        path=f"/meetings/{slug}" + page_query(zone, duration),
        day_starts=[s.start.astimezone(tz) for s in slots if s.start.astimezone(tz).date() == DAY],
        month_slots=len(slots),
        api_variables={
            "slug": slug,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "tz": zone,
        },
    )


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    workload = workloads.generate(intervals=200 if args.small else 10_000)
    query = to_query(workload)
    calendars = [
        [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in c["busy"]]
        for c in workload["calendars"]
    ]
    start, end = month_window(query.rules.time_zone)
    margin = dt.timedelta(days=2)  # wider than the day the use case adds each side
    window = (min(start, query.start) - margin, max(end, query.end) + margin)
    port = free_port()
    base = f"http://{HOST}:{port}"
    load = os.getloadavg()
    with postgres_server() as (server_url, database), tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server_url) as database_url:
            slug = await slots_http.seed(database_url, query.rules, calendars, window, query.now)
            target = engine_target(workload, slug)
            env = {slots_http.ENV_NOW: query.now.isoformat(), slots_http.ENV_PUBLIC_BASE_URL: base}
            factory = slots_http.FACTORY
            with run_server(database_url, Path(tmp), factory=factory, env=env, port=port) as server:
                try:
                    await wait_until_ready(server)
                    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
                        page_ms, api_ms = await measure_render(
                            http, target, runs=args.runs, warmup=args.warmup
                        )
                        sizes = await measure_bytes(http, target)
                    browser = await measure_browser(
                        base,
                        target,
                        query.rules.time_zone,
                        runs=args.browser_runs,
                        warmup=args.browser_warmup,
                    )
                except BaseException:
                    print(server.log_tail(), file=sys.stderr)
                    raise
    return {
        "database": database,
        "busy": len(query.busy),
        "target": target,
        "page": Figures("booking page GET (HTML)", len(target.day_starts), page_ms),
        "api": Figures("availableSlots POST (same month)", target.month_slots, api_ms),
        "sizes": sizes,
        "browser": browser,
        "load": (load, os.getloadavg()),
    }


def report(args: argparse.Namespace, found: dict[str, Any]) -> None:
    target: Target = found["target"]
    before, after = found["load"]
    print(f"command: {command('bench.pages')}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{before[0]:.1f} before, {after[0]:.1f} after; {found['database']}"
    )
    print(
        f"workload bench/workloads.py: {found['busy']:,} busy intervals in a warm busy cache; "
        f"page {target.path} ({len(target.day_starts)} slots that day, "
        f"{target.month_slots} in the month)"
    )
    print(
        "server: one uvicorn process (create_app, production mode, fixed clock) on loopback, "
        "limits: " + " ".join(f"{k}={v}" for k, v in LOAD_LIMITS.items())
    )
    print(f"server time: {args.runs} sequential requests each after {args.warmup} warm-up")
    page: Figures = found["page"]
    api: Figures = found["api"]
    for figure in (page, api):
        print(
            f"  {figure.label}: min {figure.minimum:.2f} ms, p50 {figure.median:.2f} ms, "
            f"p95 {figure.p95:.2f} ms"
        )
    print(f"  page/API p50 ratio {page.median / api.median:.2f}")
    met = page.median <= TARGET_MS
    print(f"target page p50 <= {TARGET_MS:.0f} ms: {'met' if met else 'missed'}")
    for variant, sizes in found["sizes"].items():
        raw = sum(s.raw for s in sizes)
        zipped = sum(s.gzipped for s in sizes)
        parts = ", ".join(f"{s.name} {s.raw:,}/{s.gzipped:,}" for s in sizes)
        within = "within" if raw <= LIMIT_BYTES else "OVER"
        print(
            f"bytes, {variant}: {raw:,} uncompressed, {zipped:,} gzip ({parts}); "
            f"{within} the {LIMIT_BYTES // 1024} KB limit"
        )
    print(
        f"Chromium: {args.browser_runs} first visits (fresh context) after "
        f"{args.browser_warmup} warm-up, ms from navigation start:"
    )
    for name, values in found["browser"].items():
        print(
            f"  {name}: min {min(values):.1f}, p50 {Figures(name, 0, values).median:.1f}, "
            f"max {max(values):.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="timed requests of each (100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first (10)")
    parser.add_argument("--browser-runs", type=int, default=20, help="timed visits (20)")
    parser.add_argument("--browser-warmup", type=int, default=2, help="untimed visits (2)")
    parser.add_argument("--small", action="store_true", help="200 busy intervals, not 10,000")
    args = parser.parse_args()
    if args.runs < 2 or args.browser_runs < 1:
        parser.error("--runs needs at least 2 (for a p95) and --browser-runs at least 1")
    found = asyncio.run(bench(args))
    report(args, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
