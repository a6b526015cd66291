"""Calendar sync benchmark (the incremental-sync acceptance): a full sync of a 10,000-event Google
calendar, then an incremental one after 10 changes.

What it measures: `slotgraph.calsync.engine.sync_connection` with the real `GoogleCalendarClient`
(httpx) against the Google fake of `tests/fakes/google.py`, which serves Calendar API v3
over loopback HTTP with Google's paging (250 items a page, as the adapter asks), on a fresh
database (on `DATABASE_URL`, else the embedded PostgreSQL) with one Google connection whose
primary calendar holds the scenario week (17 items) and 10,000 events spread evenly over the
default synced window (`SyncConfig()`: a day back, 62 days ahead). The fake runs in a child
process, so its CPU and memory are not this process's; it answers the request log over a
pipe.

Printed:
1. the full sync: wall time, items per second, pages, the peak RSS of this process and its
   growth over the baseline before the sync;
2. the incremental sync after 10 changes in the fake (4 moves, 3 deletions, 3 new events):
   wall time, requests and items the fake answered after the sync token (must be 10);
3. the same full sync again on emptied sync tables under `tracemalloc`: its peak of traced
   Python allocations (tracemalloc slows Python down, hence a separate, untimed run).

The run fails (non-zero exit) when a sync does not end SYNCED, the stored event count is
wrong, or the incremental sync transfers anything but the changes. Bounded: every sync runs
under a timeout, and the fake's pipe is polled with one.

Run from the repository root: `.venv/bin/python bench/sync.py` or
`.venv/bin/python -m bench.sync` (`--events N`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import gc
import multiprocessing
import os
import platform
import resource
import shlex
import time
import tracemalloc
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.graphql_overhead import BenchError
from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import postgres_server
from bench.seeding import connected_calendar
from bench.seeding import seed_connected_host
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import sync_connection
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSyncCursor
from slotgraph.models import SyncedEvent
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from slotgraph.models.enums import Provider
from slotgraph.providers.base import CalendarClient
from slotgraph.providers.google import PAGE_SIZE
from slotgraph.providers.google import GoogleCalendarClient
from slotgraph.providers.retry import FAST
from slotgraph.server.logs import configure_logging

NOW = dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC)  # the scenario week lies ahead
CONFIG = SyncConfig()
SYNC_TIMEOUT_SECONDS = 300.0
PIPE_TIMEOUT_SECONDS = 120.0
REQUEST_TIMEOUT_SECONDS = 30.0
SCENARIO_ITEMS = 17  # what the Google fake seeds on the primary calendar
CHANGES = 10
MIN_EVENTS = 103  # the changes delete bulk events 100-102


# ---------------------------------------------------------------- the fake (child process)


def serve_fake(pipe: Connection, events: int) -> None:
    """Child process: the Google fake with `events` more events; answers commands on `pipe`
    ("change": make the 10 changes; "log": events.list calls; "stop")."""
    from tests.fakes.google import FakeGoogle
    from tests.fakes.scenario import ScriptedEvent
    from tests.fakes.scenario import spread

    bulk = spread(events, NOW, NOW + dt.timedelta(days=60))
    with FakeGoogle() as fake:
        ids = [fake.add_event(event) for event in bulk]
        refresh = fake.grant()
        pipe.send(
            {
                "api_base_url": fake.api_base_url,
                "email": fake.email,
                "token": fake.access_token_for(refresh),
                "page_size": fake.events_page_size,
            }
        )
        while True:
            command = pipe.recv()
            if command == "change":
                for event, event_id in zip(bulk[:4], ids, strict=False):
                    assert isinstance(event.start, dt.datetime)
                    moved = event.start + dt.timedelta(minutes=1)
                    fake.move_event(event_id, moved, moved + dt.timedelta(minutes=1))
                for event_id in ids[100:103]:
                    fake.remove_event(event_id)
                for n in range(3):
                    at = NOW + dt.timedelta(days=61, hours=n)
                    fake.add_event(
                        ScriptedEvent(f"new{n}", "New", at, at + dt.timedelta(minutes=30))
                    )
                pipe.send("changed")
            elif command == "log":
                pipe.send(
                    [
                        ("syncToken" in r.query, r.items, r.status)
                        for r in fake.requests
                        if r.operation == "events.list"
                    ]
                )
            else:
                pipe.send("stopped")
                return


class Fake:
    """The parent's handle on the child process serving the fake."""

    def __init__(self, events: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=serve_fake, args=(child, events), daemon=True)
        self.process.start()
        self.info: dict[str, Any] = self.ask(None)

    def ask(self, command: str | None) -> Any:
        if command is not None:
            self.pipe.send(command)
        if not self.pipe.poll(PIPE_TIMEOUT_SECONDS):
            raise BenchError(f"the fake did not answer {command or 'start-up'} in time")
        return self.pipe.recv()

    def listings(self) -> list[tuple[bool, int | None, int]]:
        """(after a sync token?, items answered, status) of every events.list call."""
        answer: list[tuple[bool, int | None, int]] = self.ask("log")
        return answer

    def close(self) -> None:
        if self.process.is_alive():
            self.ask("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# ---------------------------------------------------------------- the sync (this process)


@dataclass
class OneClient:
    """`slotgraph.calendars.clients.CalendarClients` answering the one Google client."""

    adapter: CalendarClient

    async def client(
        self, _: CalendarConnection, session: AsyncSession | None = None
    ) -> CalendarClient:
        return self.adapter

    async def access_lost(self, connection_id: int) -> None:
        raise BenchError(f"the fake refused the grant of connection {connection_id}")


def rss_bytes() -> int:
    """Current resident set size (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


async def seed(sessionmaker: Any, email: str) -> int:
    """One account, user and Google connection with its primary calendar; the connection id."""
    async with sessionmaker.begin() as session:
        _, connection = await seed_connected_host(session, Provider.GOOGLE, account_email=email)
        session.add(connected_calendar(connection, email, "Calendar", "America/New_York"))
        return int(connection.id)


async def timed_sync(ctx: SyncContext, connection_id: int) -> float:
    began = time.perf_counter()
    async with asyncio.timeout(SYNC_TIMEOUT_SECONDS):
        outcome = await sync_connection(ctx, connection_id)
    elapsed = time.perf_counter() - began
    if outcome is not Outcome.SYNCED:
        raise BenchError(f"the sync ended {outcome}")
    return elapsed


async def held(sessionmaker: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(SyncedEvent)) or 0)


@dataclass
class Report:
    database: str
    events: int
    full_seconds: float
    full_pages: int
    full_items: int
    stored: int
    baseline_rss: int
    peak_rss: int
    incremental_seconds: float
    incremental_requests: int
    incremental_items: int
    traced_peak: int


async def bench(fake: Fake, events: int) -> Report:
    info = fake.info
    with postgres_server() as (server_url, database):
        async with fresh_database(server_url) as database_url:
            engine = create_engine(database_url, pool_size=2, max_overflow=0)
            try:
                await migrate(engine)
                sessionmaker = create_sessionmaker(engine)
                connection_id = await seed(sessionmaker, info["email"])

                async def tokens(_: bool) -> str:
                    return str(info["token"])

                async with httpx.AsyncClient(trust_env=False) as http:
                    client = GoogleCalendarClient(
                        http=http,
                        api_base_url=info["api_base_url"],
                        tokens=tokens,
                        account_email=info["email"],
                        timeout=REQUEST_TIMEOUT_SECONDS,
                        retry=FAST,
                    )
                    ctx = SyncContext(
                        sessionmaker=sessionmaker,
                        clients=OneClient(client),
                        config=CONFIG,
                        clock=lambda: NOW,
                        worker="bench",
                    )
                    gc.collect()
                    baseline = rss_bytes()
                    full = await timed_sync(ctx, connection_id)
                    peak = peak_rss_bytes()
                    stored = await held(sessionmaker)
                    listed = fake.listings()
                    if stored < events or any(status != 200 for *_, status in listed):
                        raise BenchError(f"the full sync stored {stored} events: {listed}")

                    fake.ask("change")
                    mark = len(listed)
                    incremental = await timed_sync(ctx, connection_id)
                    after = fake.listings()[mark:]
                    items = sum(count or 0 for _, count, _ in after)
                    if items != CHANGES or not all(token for token, *_ in after):
                        raise BenchError(f"the incremental sync transferred {after}")
                    if await held(sessionmaker) != stored:
                        raise BenchError("the incremental sync changed the event count")

                    async with sessionmaker.begin() as session:
                        await session.execute(delete(SyncedEvent))
                        await session.execute(delete(CalendarSyncCursor))
                    gc.collect()
                    tracemalloc.start()
                    try:
                        await timed_sync(ctx, connection_id)
                        traced_peak = tracemalloc.get_traced_memory()[1]
                    finally:
                        tracemalloc.stop()
            finally:
                await engine.dispose()
    return Report(
        database=database,
        events=events,
        full_seconds=full,
        full_pages=len(listed),
        full_items=sum(count or 0 for _, count, _ in listed),
        stored=stored,
        baseline_rss=baseline,
        peak_rss=peak,
        incremental_seconds=incremental,
        incremental_requests=len(after),
        incremental_items=items,
        traced_peak=traced_peak,
    )


def command() -> str:
    prefix = "DATABASE_URL=... " if os.environ.get("DATABASE_URL") else ""
    as_module = __spec__ is not None and __spec__.name == "bench.sync"
    script = ["-m", "bench.sync"] if as_module else ["bench/sync.py"]
    return prefix + shlex.join([".venv/bin/python", *script, *sys.argv[1:]])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events beyond the scenario")
    args = parser.parse_args()
    if not MIN_EVENTS <= args.events <= 100_000:
        # The 10 changes move events 0-3 and delete events 100-102 of the bulk.
        parser.error(f"--events must be between {MIN_EVENTS} and 100,000")
    configure_logging("WARNING", json=True)
    fake = Fake(args.events)  # before any event loop or thread exists
    try:
        report = asyncio.run(bench(fake, args.events))
    except BenchError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        fake.close()
    mib = 1024 * 1024
    items = report.full_items
    print(f"command: {command()}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {report.database}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"calendar: {report.events:,} events + {SCENARIO_ITEMS} scenario items, "
        f"{fake.info['page_size']} a page (the adapter asks for {PAGE_SIZE})"
    )
    print(
        f"full sync: {report.full_seconds:.2f} s, {items:,} items in {report.full_pages} pages, "
        f"{items / report.full_seconds:,.0f} events/s, {report.stored:,} events stored"
    )
    print(
        f"memory: peak RSS {report.peak_rss / mib:.0f} MiB "
        f"(baseline before the sync {report.baseline_rss / mib:.0f} MiB, "
        f"growth {(report.peak_rss - report.baseline_rss) / mib:.0f} MiB); "
        f"tracemalloc peak of a second full sync {report.traced_peak / mib:.1f} MiB"
    )
    print(
        f"incremental sync after {CHANGES} changes: {report.incremental_seconds * 1000:.0f} ms, "
        f"{report.incremental_requests} request(s), {report.incremental_items} items "
        f"transferred after the sync token"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
