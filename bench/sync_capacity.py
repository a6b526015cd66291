"""Sync capacity (issue 15, part 4): how many connected Google calendars one worker process
keeps synced when nothing changes, what each sync costs the database, and how long a push
takes from Google's notification to an `availabilityChanged` subscriber.

Setup: the Google fake of `tests/fakes/google.py` in a child process (its CPU is not ours),
serving `--calendars` calendars (1,000), each the primary calendar of its own host and
connection, with `--events` busy events (20) each; a fresh database (on `DATABASE_URL`, else
the embedded PostgreSQL) with those hosts, their connections and their sealed credentials;
one `slotgraph serve --no-worker` process (the API, which receives the pushes) and, from
phase 2, one `slotgraph worker` process. Everything talks real HTTP on loopback through the
real Google client (`slotgraph.providers.google`), with push channels on.

Phases, all printed:
0. the first (full) sync of every connection, run in this process by the worker's own
   sync context (`slotgraph.server.worker.register_sync`), which also opens each calendar's
   push channel; not a figure, only the starting state;
1. in this process, the same context: every connection made due, then the worker's sweep
   (`run_due_syncs`) run back to back until none is due: syncs per second, CPU per sync,
   and per sync the SQL statements and transactions (counted by SQLAlchemy event listeners
   on the engine), the change notices published and the requests Google answered;
2. the worker process, once it has synced one connection (its start-up is not counted):
   every connection made due again, then the time until the worker has synced them all (or
   `--seconds` passed): syncs per second per worker process, as its periodic sweep with the
   default settings achieves it (up to one poll, 5 s, passes before the first sweep), the
   sustained rate between its first and its last sync (from `last_synced_at`: what the
   worker does while there is work, the figure the target is for), and its CPU per sync;
3. the push path: `--subscribers` (20) hosts each have a page and a websocket subscriber
   on `availabilityChanged` for one day; `--pushes` (100) times, one at a time, an event
   on one of those calendars moves into or out of that day at the fake, which notifies
   the API, which enqueues the sync, which the worker runs, which publishes the busy
   change, which the API turns into a frame. Latency from the change at the fake to the
   frame read by the subscriber: p50, p99, max.

Targets: >= 100 no-change syncs/s per worker; push-to-subscriber p99 <= 2 s. The run exits
non-zero when a sync does not end SYNCED, a no-change sync transfers anything, or a frame is
missing or wrong; missing a target does not fail it (the last lines say met or missed).

Run from the repository root: `.venv/bin/python bench/sync_capacity.py` or
`.venv/bin/python -m bench.sync_capacity` (`--calendars`, `--events`, `--subscribers`,
`--pushes`, `--seconds`, `--json`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import collections
import datetime as dt
import json
import multiprocessing
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from bench.fanout import cpu_seconds
from bench.fanout import create_monday_page
from bench.fanout import percentile
from bench.fanout import raise_file_limit
from bench.fanout import receive
from bench.fanout import subscribe
from bench.graphql_overhead import BenchError
from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import postgres_server
from bench.seeding import connected_calendar
from bench.seeding import seed_connection
from bench.serve import LOAD_LIMITS
from bench.serve import SLOTGRAPH
from bench.serve import Served
from bench.serve import serve
from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.scheduler import run_due_syncs
from slotgraph.jobs.queue import JobQueue
from slotgraph.models import CalendarConnection
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import migrate
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.server.logs import configure_logging
from slotgraph.server.runtime import Runtime
from slotgraph.server.runtime import build_runtime
from slotgraph.server.settings import Settings
from slotgraph.server.worker import register_sync
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.tokens import issue_token

WAIT = 30.0  # seconds: the longest any single step may take before the run fails
PIPE_TIMEOUT_SECONDS = 120.0
SYNC_ROUND_SECONDS = 600.0
TARGET_SYNCS_PER_SECOND = 100.0
TARGET_PUSH_P99_SECONDS = 2.0
# The subscribed day's hours: 08:00-18:00 UTC, 30-minute meetings every 15 minutes.
OPEN_SLOTS = 10 * 4 - 1
# The toggled event, 08:00-09:00 on the subscribed day, takes the slots starting 08:00-08:45.
TOGGLED_SLOTS = 4


def calendar_id(index: int) -> str:
    return f"cal{index:04d}@bench.test"


def toggle_id(index: int) -> str:
    return f"toggle{index:04d}"


def subscribed_day() -> dt.datetime:
    """Midnight UTC of the Monday at least two days ahead (inside the synced window)."""
    today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7)
    return dt.datetime.combine(monday, dt.time(), dt.UTC)


# ---------------------------------------------------------------- the fake (child process)


def serve_fake(pipe: Connection, calendars: int, events: int, day: dt.datetime) -> None:
    """Child process: the Google fake with `calendars` calendars, each with `events` busy
    events from two days after `day` on and one toggled event, parked on the day after
    `day` (outside the subscribed day). Commands on `pipe`: ("toggle", index, inside),
    ("calls",): Google's answered requests by operation, ("stop",)."""
    from tests.fakes.google import Calendar
    from tests.fakes.google import FakeGoogle
    from tests.fakes.scenario import ScriptedEvent

    def toggled(inside: bool) -> ScriptedEvent:
        start = day + dt.timedelta(days=0 if inside else 1, hours=8)
        return ScriptedEvent("toggle", "Toggled", start, start + dt.timedelta(hours=1))

    with FakeGoogle() as fake:
        refresh = fake.grant()
        for index in range(calendars):
            remote = calendar_id(index)
            fake.calendars[remote] = Calendar(remote, f"Host {index}", "UTC", "owner")
            for n in range(events):
                start = day + dt.timedelta(days=2 + n % 50, hours=9 + n // 50 % 8)
                busy = ScriptedEvent(f"e{n}", "Busy", start, start + dt.timedelta(minutes=30))
                fake.add_event(busy, calendar_id=remote, event_id=f"e{index:04d}x{n:04d}")
            fake.add_event(toggled(False), calendar_id=remote, event_id=toggle_id(index))
        pipe.send(
            {
                "base_url": fake.base_url,
                "api_base_url": fake.api_base_url,
                "token_url": fake.token_url,
                "auth_url": fake.auth_url,
                "revoke_url": fake.revoke_url,
                "userinfo_url": fake.userinfo_url,
                "access_token": fake.access_token_for(refresh),
                "refresh_token": refresh,
            }
        )
        while True:
            command = pipe.recv()
            if command[0] == "toggle":
                _, index, inside = command
                fake.add_event(
                    toggled(inside), calendar_id=calendar_id(index), event_id=toggle_id(index)
                )
                pipe.send("moved")
            elif command[0] == "calls":
                counts = collections.Counter(
                    (r.operation, "syncToken" in r.query, r.items or 0, r.status)
                    for r in fake.calls()
                )
                pipe.send([(*key, n) for key, n in counts.items()])
            else:
                pipe.send("stopped")
                return


class Fake:
    """The parent's handle on the child process serving the fake."""

    def __init__(self, calendars: int, events: int, day: dt.datetime) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=serve_fake, args=(child, calendars, events, day), daemon=True
        )
        self.process.start()
        self.info: dict[str, Any] = self.ask(None)

    def ask(self, command: tuple[Any, ...] | None) -> Any:
        if command is not None:
            self.pipe.send(command)
        if not self.pipe.poll(PIPE_TIMEOUT_SECONDS):
            raise BenchError(f"the fake did not answer {command or 'start-up'} in time")
        return self.pipe.recv()

    def calls(self) -> collections.Counter[tuple[str, bool, int, int]]:
        """(operation, after a sync token?, items, status) -> count, so far."""
        return collections.Counter({tuple(key): n for *key, n in self.ask(("calls",))})

    def close(self) -> None:
        if self.process.is_alive():
            self.ask(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# ---------------------------------------------------------------- settings and processes


def environment(fake: Fake, database_url: str, key: str, public_base_url: str) -> dict[str, str]:
    """What every slotgraph process of the run is configured with (as `SLOTGRAPH_*`)."""
    from tests.fakes.google import CLIENT_ID
    from tests.fakes.google import CLIENT_SECRET

    info = fake.info
    return {
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": key,
        "SLOTGRAPH_PUBLIC_BASE_URL": public_base_url,
        "SLOTGRAPH_GOOGLE_CLIENT_ID": CLIENT_ID,
        "SLOTGRAPH_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "SLOTGRAPH_GOOGLE_AUTH_URL": info["auth_url"],
        "SLOTGRAPH_GOOGLE_TOKEN_URL": info["token_url"],
        "SLOTGRAPH_GOOGLE_REVOKE_URL": info["revoke_url"],
        "SLOTGRAPH_GOOGLE_USERINFO_URL": info["userinfo_url"],
        "SLOTGRAPH_GOOGLE_API_BASE_URL": info["api_base_url"],
        "SLOTGRAPH_PUSH_NOTIFICATIONS": "true",
        "SLOTGRAPH_LOG_LEVEL": "ERROR",
        **LOAD_LIMITS,
    }


def settings_from(env: dict[str, str]) -> Settings:
    values = {
        name.removeprefix("SLOTGRAPH_").lower(): value
        for name, value in env.items()
        if name.startswith("SLOTGRAPH_")
    }
    return Settings.model_validate({**values, "db_pool_size": 4, "sync_concurrency": 8})


def start_worker(env: dict[str, str], log_dir: Path) -> Served:
    """`slotgraph worker` with the run's settings (the product's defaults otherwise)."""
    log = log_dir / "worker.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [SLOTGRAPH, "worker"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    return Served(process, "", log, env["SLOTGRAPH_SECRET_KEYS"])


# ---------------------------------------------------------------- seeding


async def seed(runtime: Runtime, fake: Fake, calendars: int, subscribers: int) -> list[str]:
    """One account; per calendar a host, its Google connection (connected, offered to
    pages) with the calendar as primary, and its credential; tokens of the first
    `subscribers` hosts (who get a page each)."""
    info = fake.info
    secret = {
        "access_token": info["access_token"],
        "refresh_token": info["refresh_token"],
        "expires_at": time.time() + 3_000,
        "scope": "openid email https://www.googleapis.com/auth/calendar",
    }
    tokens: list[str] = []
    async with runtime.sessionmaker.begin() as session:
        account = await create_account(session, "Bench Co")
        for index in range(calendars):
            user = await create_user(
                session,
                account,
                email=f"host{index:04d}@bench.test",
                name=f"Host {index}",
                seat=Seat.SALES,
                tier=Tier.PROFESSIONAL,
                url_prefix=f"host{index:04d}",
            )
            connection = await seed_connection(
                session, user, Provider.GOOGLE, f"host{index:04d}@bench.test"
            )
            session.add(connected_calendar(connection, calendar_id(index), f"Host {index}", "UTC"))
            await runtime.services.credentials.save(session, connection, secret)
            if index < subscribers:
                tokens.append(await issue_token(session, user, name="bench", scopes=tuple(Scope)))
    return tokens


async def make_all_due(runtime: Runtime) -> dt.datetime:
    """Every connection due now; the database's now."""
    async with runtime.sessionmaker.begin() as session:
        now = await session.scalar(select(func.now()))
        assert isinstance(now, dt.datetime)
        await session.execute(update(CalendarConnection).values(next_sync_at=now))
    return now


async def synced_since(runtime: Runtime, since: dt.datetime) -> int:
    async with runtime.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(CalendarConnection)
                .where(CalendarConnection.last_synced_at >= since)
            )
            or 0
        )


async def sync_span(runtime: Runtime, since: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """When the first and the last sync since `since` ended (the worker's clock)."""
    async with runtime.sessionmaker() as session:
        first, last = (
            await session.execute(
                select(
                    func.min(CalendarConnection.last_synced_at),
                    func.max(CalendarConnection.last_synced_at),
                ).where(CalendarConnection.last_synced_at >= since)
            )
        ).one()
    if first is None or last is None:
        raise BenchError("no sync ended since the connections were made due")
    return first, last


# ---------------------------------------------------------------- phases


@dataclass
class Counters:
    """SQL statements and transactions on an engine, and notices published."""

    statements: int = 0
    transactions: int = 0
    notices: int = 0


def count_statements(runtime: Runtime) -> Counters:
    counters = Counters()

    def statement(*_: Any) -> None:
        counters.statements += 1

    def begin(*_: Any) -> None:
        counters.transactions += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(runtime.engine.sync_engine, "begin", begin)
    pubsub = runtime.services.pubsub
    publish = pubsub.publish

    async def counted(channel: str, *ids: str) -> None:
        counters.notices += len(ids)
        await publish(channel, *ids)

    pubsub.publish = counted  # type: ignore[method-assign]
    return counters


async def sweep_until_idle(ctx: SyncContext, calendars: int) -> list[Outcome]:
    """The worker's sweep, back to back (no poll pause) until nothing is due."""
    outcomes: list[Outcome] = []
    async with asyncio.timeout(SYNC_ROUND_SECONDS):
        while claimed := await run_due_syncs(ctx):
            outcomes += claimed
            if len(outcomes) > calendars:
                raise BenchError("more syncs than connections: a sweep claimed one twice")
    if len(outcomes) != calendars or set(outcomes) != {Outcome.SYNCED}:
        raise BenchError(f"sweeps ended {collections.Counter(outcomes)}")
    return outcomes


async def in_process(
    runtime: Runtime, database_url: str, fake: Fake, calendars: int
) -> dict[str, Any]:
    """Phases 0 and 1, with the sync context a worker process builds for itself."""
    ctx = register_sync(JobQueue(database_url), runtime)
    counters = count_statements(runtime)
    began = time.perf_counter()
    await sweep_until_idle(ctx, calendars)
    full_seconds = time.perf_counter() - began
    before_calls = fake.calls()
    await make_all_due(runtime)
    base = Counters(counters.statements, counters.transactions, counters.notices)
    times = os.times()
    began = time.perf_counter()
    await sweep_until_idle(ctx, calendars)
    seconds = time.perf_counter() - began
    user, system = (after - before for after, before in zip(os.times()[:2], times[:2], strict=True))
    answered = fake.calls() - before_calls
    listings = {key: n for key, n in answered.items() if key[0] == "events.list"}
    if listings != {("events.list", True, 0, 200): calendars}:
        raise BenchError(f"the no-change syncs were answered {dict(answered)}")
    return {
        "full_sync_seconds": full_seconds,
        "seconds": seconds,
        "syncs_per_second": calendars / seconds,
        "cpu_ms_per_sync": (user + system) * 1000 / calendars,
        "system_cpu_ms_per_sync": system * 1000 / calendars,
        "statements_per_sync": (counters.statements - base.statements) / calendars,
        "transactions_per_sync": (counters.transactions - base.transactions) / calendars,
        "notices_per_sync": (counters.notices - base.notices) / calendars,
        "requests_per_sync": sum(answered.values()) / calendars,
    }


async def worker_started(runtime: Runtime, worker: Served) -> None:
    """Wait until the worker has synced one connection made due (it is up and sweeping),
    so its start-up is not counted."""
    async with runtime.sessionmaker.begin() as session:
        since = await session.scalar(select(func.now()))
        first = select(func.min(CalendarConnection.id)).scalar_subquery()
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == first)
            .values(next_sync_at=since)
        )
    assert isinstance(since, dt.datetime)
    async with asyncio.timeout(SYNC_ROUND_SECONDS):
        while not await synced_since(runtime, since):
            if worker.process.poll() is not None:
                raise BenchError(f"the worker died: {worker.log.read_text()[-2000:]}")
            await asyncio.sleep(0.2)


async def worker_process(
    runtime: Runtime, worker: Served, calendars: int, limit: float
) -> dict[str, Any]:
    await worker_started(runtime, worker)
    cpu = cpu_seconds(worker)
    since = await make_all_due(runtime)
    began = time.perf_counter()
    done = 0
    while (elapsed := time.perf_counter() - began) < limit:
        done = await synced_since(runtime, since)
        if done >= calendars:
            break
        if worker.process.poll() is not None:
            raise BenchError(f"the worker died: {worker.log.read_text()[-2000:]}")
        await asyncio.sleep(0.1)
    cpu = cpu_seconds(worker) - cpu
    first, last = await sync_span(runtime, since)
    return {
        "synced": done,
        "seconds": elapsed,
        "syncs_per_second": done / elapsed,
        "sustained_per_second": (done - 1) / max((last - first).total_seconds(), 1e-3),
        "cpu_ms_per_sync": cpu * 1000 / done if done else float("nan"),
        "completed": done >= calendars,
    }


def slot_count(payload: dict[str, Any]) -> int:
    return sum(len(day["starts"]) for day in payload["days"])


async def create_pages(api: Served, tokens: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=api.base, timeout=WAIT, trust_env=False) as http:
        return [await create_monday_page(http, token, "Sync capacity") for token in tokens]


async def push_path(
    api: Served, fake: Fake, tokens: list[str], day: dt.datetime, pushes: int
) -> dict[str, Any]:
    slugs = await create_pages(api, tokens)
    window = {"start": day.isoformat(), "end": (day + dt.timedelta(days=1)).isoformat()}
    sockets = [
        (await subscribe(api.ws_url, "API", {"slug": slug, **window}, OPEN_SLOTS)).socket
        for slug in slugs
    ]
    inside = [False] * len(sockets)
    latencies: list[float] = []
    try:
        for push in range(pushes):
            index = push % len(sockets)
            inside[index] = not inside[index]
            expected = OPEN_SLOTS - TOGGLED_SLOTS if inside[index] else OPEN_SLOTS
            began = time.perf_counter()
            pending = asyncio.ensure_future(receive(sockets[index]))
            await asyncio.to_thread(fake.ask, ("toggle", index, inside[index]))
            payload, _ = await asyncio.wait_for(pending, WAIT)
            latencies.append(time.perf_counter() - began)
            if payload["snapshot"] or slot_count(payload) != expected:
                raise BenchError(f"push {push}: expected {expected} slots, got {payload}")
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {
        "pushes": pushes,
        "subscribers": len(sockets),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    raise_file_limit(args.subscribers + 200)
    day = subscribed_day()
    load = [os.getloadavg()]
    fake = Fake(args.calendars, args.events, day)
    try:
        with postgres_server() as (server_url, database), tempfile.TemporaryDirectory() as tmp:
            async with fresh_database(server_url) as database_url:
                key = generate_key()
                own = environment(fake, database_url, key, "")
                del own["SLOTGRAPH_PUBLIC_BASE_URL"]  # `serve` gives its own address
                api = serve(database_url, key, Path(tmp), extra_env=own, no_worker=True)
                worker: Served | None = None
                env = environment(fake, database_url, key, api.base)
                runtime = build_runtime(settings_from(env), database_url)
                try:
                    await migrate(runtime.engine)
                    tokens = await seed(runtime, fake, args.calendars, args.subscribers)
                    await runtime.services.pubsub.start()
                    phase1 = await in_process(runtime, database_url, fake, args.calendars)
                    load.append(os.getloadavg())
                    worker = start_worker(env, Path(tmp))
                    phase2 = await worker_process(runtime, worker, args.calendars, args.seconds)
                    load.append(os.getloadavg())
                    phase3 = await push_path(api, fake, tokens, day, args.pushes)
                    load.append(os.getloadavg())
                finally:
                    await runtime.services.pubsub.stop()
                    await runtime.aclose()
                    codes = [api.stop()]
                    if worker is not None:
                        codes.append(worker.stop())
                if codes != [0] * len(codes):
                    raise BenchError(f"a process did not stop cleanly: {codes}")
    finally:
        fake.close()
    return {
        "database": database,
        "calendars": args.calendars,
        "events": args.events,
        "load_average": load,
        "in_process": phase1,
        "worker": phase2,
        "push": phase3,
    }


def command() -> str:
    prefix = "DATABASE_URL=... " if os.environ.get("DATABASE_URL") else ""
    as_module = __spec__ is not None and __spec__.name == "bench.sync_capacity"
    script = ["-m", "bench.sync_capacity"] if as_module else ["bench/sync_capacity.py"]
    return prefix + shlex.join([".venv/bin/python", *script, *sys.argv[1:]])


def print_report(report: dict[str, Any]) -> None:
    one, worker, push = report["in_process"], report["worker"], report["push"]
    print(f"command: {command()}")
    print(f"date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, database: {report['database']}")
    print(
        "load average (1, 5, 15 min) at start and after each phase: "
        + "; ".join(", ".join(f"{v:.2f}" for v in sample) for sample in report["load_average"])
    )
    print(
        f"{report['calendars']:,} Google calendars, {report['events']} events each; "
        f"first full sync of all (setup, in this process): {one['full_sync_seconds']:.1f} s"
    )
    print(
        f"no-change sync, worker's sweep back to back in this process: "
        f"{one['syncs_per_second']:.1f} syncs/s, {one['cpu_ms_per_sync']:.2f} ms CPU/sync "
        f"(of which {one['system_cpu_ms_per_sync']:.2f} ms in the kernel)"
    )
    print(
        f"per no-change sync: {one['statements_per_sync']:.2f} SQL statements, "
        f"{one['transactions_per_sync']:.2f} transactions, {one['notices_per_sync']:.2f} "
        f"notices, {one['requests_per_sync']:.2f} Google requests"
    )
    print(
        f"no-change sync, one `slotgraph worker` process (default settings): "
        f"{worker['synced']:,} synced in {worker['seconds']:.1f} s = "
        f"{worker['syncs_per_second']:.1f} syncs/s (up to one 5 s poll before its first "
        f"sweep included); sustained, first to last sync: "
        f"{worker['sustained_per_second']:.1f} syncs/s; {worker['cpu_ms_per_sync']:.2f} ms "
        f"CPU/sync" + ("" if worker["completed"] else " (stopped at --seconds)")
    )
    print(
        f"push -> synced -> availabilityChanged frame, {push['pushes']} pushes over "
        f"{push['subscribers']} subscribers: p50 {push['p50_ms']:.0f} ms, "
        f"p99 {push['p99_ms']:.0f} ms, max {push['max_ms']:.0f} ms"
    )
    rate_met = worker["sustained_per_second"] >= TARGET_SYNCS_PER_SECOND
    push_met = push["p99_ms"] <= TARGET_PUSH_P99_SECONDS * 1000
    print(
        f"target >= {TARGET_SYNCS_PER_SECOND:.0f} syncs/s per worker: "
        + ("met" if rate_met else "missed")
    )
    print(
        f"target push p99 <= {TARGET_PUSH_P99_SECONDS:.0f} s: " + ("met" if push_met else "missed")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calendars", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=20, help="busy events per calendar")
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument(
        "--seconds", type=float, default=120.0, help="the longest the worker phase waits"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args(argv)
    if not 1 <= args.subscribers <= args.calendars or args.pushes < 1:
        parser.error("need 1 <= --subscribers <= --calendars and --pushes >= 1")
    configure_logging("WARNING", json=True)
    try:
        report = asyncio.run(bench(args))
    except BenchError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print_report(report)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
