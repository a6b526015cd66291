"""The HTTP half of `bench/slots.py`: `availableSlots` end to end, with a warm busy cache.

A fresh database (on `DATABASE_URL`, else the embedded PostgreSQL) gets one host in the
workload's zone with one page carrying the workload's rules (weekly hours, 30-minute
meetings on the 15-minute grid, no notice, no buffers) and one calendar connection whose 5
calendars are all availability calendars. The workload's 10,000 busy intervals go into the
busy cache through `slotgraph.calendars.busy_cache.store`, the path live reads take, read "now".

One uvicorn process (`make_app`, a separate process from this client) serves the real
application on loopback with the production settings and a fixed clock a day before the
workload's window (C17: the workload lies in the past). A warm cache younger than the
listing window answers without any provider call: the connection has no credential, so a
provider call would fail the run (the page would be unavailable).

Timed: one `availableSlots` POST for the 30-day window at a time, over a keep-alive
connection, from sending the request to the parsed JSON; every answer must hold the 365
slots (C17).

Then, on the same warm server, throughput (`concurrent`): `clients` keep-alive HTTP/1.1
connections (raw asyncio streams, `bench.graphql_overhead.keep_alive_load`, so the client
costs little CPU), each sending the same POST again as soon as its answer is in, for a
warm-up and then a timed phase; every answer must be a 200 with exactly the body of the
first, checked, answer. Printed: requests per second, p50 and p99 per request, and the
server process's CPU time per request (user + system, read from the OS before and after),
which says what one process would serve on a core of its own when the machine is shared.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import datetime as dt
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
from starlette.applications import Starlette

from bench.graphql_overhead import ENV_DATABASE_URL
from bench.graphql_overhead import HOST
from bench.graphql_overhead import BenchError
from bench.graphql_overhead import Target
from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import keep_alive_load
from bench.graphql_overhead import p50_p99_ms
from bench.graphql_overhead import postgres_server
from bench.graphql_overhead import request_bytes
from bench.graphql_overhead import run_server
from bench.graphql_overhead import server_settings
from bench.graphql_overhead import wait_until_ready
from bench.seeding import connected_calendar
from bench.seeding import seed_connected_host
from slotgraph.calendars import busy_cache
from slotgraph.models import AvailabilityCalendar
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.providers.base import Interval
from slotgraph.scheduling.slots import SlotRules
from slotgraph.server.app import create_app
from slotgraph.server.runtime import offline_services
from slotgraph.usecases.pages import PageDraft
from slotgraph.usecases.pages import create_page
from slotgraph.usecases.viewer import Viewer

ENV_NOW = "SLOTGRAPH_BENCH_NOW"
ENV_PUBLIC_BASE_URL = "SLOTGRAPH_BENCH_PUBLIC_BASE_URL"  # where page links point (bench/pages.py)
PUBLIC_BASE_URL = "http://localhost:8000"
FACTORY = "bench.slots_http:make_app"
SLOTS = """
query Slots($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: $tz, duration: 30) {
    __typename
    ... on AvailableSlots { duration offline days { date slots { start end } } }
    ... on Error { message }
  }
}
"""


def make_app() -> Starlette:
    """uvicorn factory: the real application with the bench's fixed clock."""
    now = dt.datetime.fromisoformat(os.environ[ENV_NOW])
    database_url = os.environ[ENV_DATABASE_URL]
    settings = server_settings(database_url, os.environ.get(ENV_PUBLIC_BASE_URL, PUBLIC_BASE_URL))
    return create_app(settings, database_url, clock=lambda: now)


async def seed(
    database_url: str,
    rules: SlotRules,
    calendars: list[list[tuple[dt.datetime, dt.datetime]]],
    window: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
) -> str:
    """The host, page, calendars and warm cache; returns the page's slug."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        await migrate(engine)
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker.begin() as session:
            user, connection = await seed_connected_host(
                session, Provider.EXCHANGE, time_zone=rules.time_zone, url_prefix="bench"
            )
            remote = [
                connected_calendar(
                    connection,
                    f"cal-{index + 1}",
                    f"Calendar {index + 1}",
                    rules.time_zone,
                    primary=index == 0,
                )
                for index in range(len(calendars))
            ]
            session.add_all(remote)
            await session.flush()
            session.add_all(
                AvailabilityCalendar(
                    account_id=user.account_id, user_id=user.id, remote_calendar_id=calendar.id
                )
                for calendar in remote
            )
            await busy_cache.store(
                session,
                {
                    calendar.id: [Interval(a, b) for a, b in spans]
                    for calendar, spans in zip(remote, calendars, strict=True)
                },
                window[0],
                window[1],
                read_at=now,
                keep_since=now,
            )
            viewer = Viewer(
                user_id=user.id, account_id=user.account_id, token_id=0, scopes=frozenset(Scope)
            )
        page = await create_page(
            offline_services(sessionmaker, PUBLIC_BASE_URL),
            viewer,
            PageDraft(
                title="Bench meeting",
                durations=[rules.duration_minutes],
                slot_interval=rules.interval_minutes,
                buffer_before=0,
                buffer_after=0,
                minimum_notice=0,
                booking_window_days=60,
                time_zone=rules.time_zone,
                weekly_hours=list(rules.weekly_hours),
            ),
        )
        return page.slug
    finally:
        await engine.dispose()


async def measure(
    port: int, variables: dict[str, Any], *, runs: int, warmup: int, expected: int
) -> list[float]:
    """Sequential requests over one keep-alive connection; milliseconds per answer."""
    body = {"query": SLOTS, "variables": variables}
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
        for index in range(warmup + runs):
            began = time.perf_counter_ns()
            response = await http.post("/graphql", json=body, timeout=30)
            answer = response.json()
            elapsed = (time.perf_counter_ns() - began) / 1e6
            result = answer.get("data", {}).get("availableSlots") or {}
            count = sum(len(day["slots"]) for day in result.get("days", []))
            if response.status_code != 200 or count != expected:
                raise BenchError(f"wrong answer ({count} slots, expected {expected}): {answer}")
            if index >= warmup:
                timings.append(elapsed)
    return timings


@dataclass(frozen=True)
class Load:
    """The concurrent phase asked for: connections, timed seconds, warm-up seconds."""

    clients: int
    seconds: float
    warmup: float


@dataclass(frozen=True)
class Throughput:
    """One timed phase of concurrent clients."""

    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_seconds * 1000 / self.requests


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def concurrent(
    port: int,
    pid: int,
    variables: dict[str, Any],
    *,
    clients: int,
    seconds: float,
    warmup: float,
    expected: int,
) -> Throughput:
    """`clients` keep-alive connections asking the same question for `warmup` then
    `seconds` seconds; the timed phase's figures."""
    body = json.dumps({"query": SLOTS, "variables": variables}).encode()
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
        first = await http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
    result = first.json().get("data", {}).get("availableSlots") or {}
    count = sum(len(day["slots"]) for day in result.get("days", []))
    if first.status_code != 200 or count != expected:
        raise BenchError(f"wrong answer ({count} slots, expected {expected}): {first.text:.500}")
    target = Target(
        "availableSlots",
        "/graphql",
        request_bytes("POST", "/graphql", port, "", body),
        first.content,
    )
    await keep_alive_load(target, port, clients, warmup)
    server = psutil.Process(pid)
    cpu_before = _cpu_seconds(server)
    latencies, took = await keep_alive_load(target, port, clients, seconds)
    cpu = _cpu_seconds(server) - cpu_before
    p50, p99 = p50_p99_ms(latencies)
    return Throughput(clients, len(latencies), took, p50, p99, cpu)


async def http_timings(
    rules: SlotRules,
    calendars: list[list[tuple[dt.datetime, dt.datetime]]],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    *,
    runs: int,
    warmup: int,
    expected: int,
    load: Load | None = None,
) -> tuple[list[float], Throughput | None, str]:
    """(milliseconds per sequential availableSlots request, then the concurrent phase's
    figures when `load` asks for one, which PostgreSQL served them)."""
    margin = dt.timedelta(days=2)  # wider than the day the use case adds each side
    with postgres_server() as (server_url, database), tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server_url) as database_url:
            slug = await seed(database_url, rules, calendars, (start - margin, end + margin), now)
            env = {ENV_NOW: now.isoformat()}
            with run_server(database_url, Path(tmp), factory=FACTORY, env=env) as server:
                try:
                    await wait_until_ready(server)
                    variables = {
                        "slug": slug,
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                        "tz": rules.time_zone,
                    }
                    timings = await measure(
                        server.port, variables, runs=runs, warmup=warmup, expected=expected
                    )
                    throughput = None
                    if load is not None:
                        throughput = await concurrent(
                            server.port,
                            server.process.pid,
                            variables,
                            clients=load.clients,
                            seconds=load.seconds,
                            warmup=load.warmup,
                            expected=expected,
                        )
                except BaseException:
                    print(server.log_tail())
                    raise
    return timings, throughput, database
