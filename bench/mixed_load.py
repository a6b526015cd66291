"""Mixed load (issue 15, the capacity model's run): 2 API processes and 1 worker on one
database, at a bounded rate in the capacity model's ratios, for 10 minutes by default.

Set-up: a fresh database (on `DATABASE_URL`, else the embedded PostgreSQL) and a real
Radicale (a separate process: GPL, never imported) with one account per host. Each host is
a user with an API token who connects their Radicale calendar through
`connectCalDavCalendar`, turns calendar writes on and publishes a page (weekdays 09:00-17:00
in their zone, 30 minutes, no notice), all over the API of the first process. The processes
are `slotgraph serve` twice (`SLOTGRAPH_RUN_WORKER=false`: request work only) and one
`slotgraph worker`, which syncs every connection every `--sync-interval` seconds and sends
the outbox (each confirmed booking is written to the host's Radicale calendar, each
cancellation removes it). No SMTP server: emails stay pending and are not part of it.

The load, open-loop (arrivals on a fixed schedule, whatever the answers take, so a slow
server shows as latency, not as a lower offered rate), spread over both API processes:
- `availableSlots`: a visitor's look at one host's page, one of three windows (this week,
  next week, the next 30 days) in the visitor's zone;
- `bookMeeting`: a contact books a start seen free in an earlier answer; losing the race
  (`SlotUnavailable`) is an answer, counted apart, not an error;
- `cancelBookingAsContact`: a contact cancels an earlier booking with its manage token.
Ratios per second at `--rate 1` (the model, docs/capacity.md): 20 slot reads, 1 booking,
0.1 cancellations. Syncs run at the worker's own pace: `--hosts` connections every
`--sync-interval` seconds (seen as `last_synced_at` moving, not offered by this client).

Printed: per operation the requests done, per second, p50 and p99 latency, answers counted
apart (a race lost, nothing left to cancel) and errors (an HTTP status other than 200, a
GraphQL error, a missing or unexpected answer, a transport error); syncs done and per
second; per process the resident
memory after the warm-up, at the end and its growth. The run fails (non-zero exit) on any
error or when a process exits.

Run from the repository root: `.venv/bin/python bench/mixed_load.py` or
`.venv/bin/python -m bench.mixed_load` (`--seconds 600 --rate 1 --hosts 20 --sync-interval 30`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import httpx
import psutil
from sqlalchemy import select
from sqlalchemy import update

from bench.graphql_overhead import BenchError
from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import postgres_server
from bench.serve import LOAD_LIMITS
from bench.serve import SLOTGRAPH
from bench.serve import Served
from bench.serve import kill_group
from bench.serve import serve
from slotgraph.models import CalendarConnection
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.tokens import issue_token_row

READS_PER_SECOND = 20.0  # at --rate 1: the capacity model's ratios (docs/capacity.md)
BOOKINGS_PER_SECOND = 1.0
CANCELS_PER_SECOND = 0.1
WARMUP_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.5
# Open loop, but not without bound: past this many of one kind in flight the servers have
# fallen behind, and an arrival is counted as an error instead of queueing in the client
# (thousands of waiting requests made the client, not the servers, the bottleneck).
MAX_IN_FLIGHT = 200
ZONES = ("Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin")
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")

CONNECT = """
mutation($i: ConnectCalDavCalendarInput!) { connectCalDavCalendar(input: $i) {
  __typename ... on Error { message } } }
"""
CREATE_PAGE = """
mutation($input: CreateSchedulingPageInput!) { createSchedulingPage(input: $input) {
  __typename ... on CreateSchedulingPageSuccess { page { slug } } ... on Error { message } } }
"""
SLOTS = """
query($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: $tz) {
    __typename ... on AvailableSlots { days { slots { start } } } } }
"""
BOOK = """
mutation($input: BookMeetingInput!) { bookMeeting(input: $input) {
  __typename ... on BookMeetingSuccess { offline manageToken } } }
"""
CANCEL = """
mutation($input: CancelBookingAsContactInput!) { cancelBookingAsContact(input: $input) {
  __typename } }
"""


@dataclass
class Operation:
    """What one kind of request did: latencies of those answered, and the rest counted."""

    name: str
    latencies: list[float] = field(default_factory=list)
    apart: int = 0  # no success, as expected: a race lost, or nothing left to cancel
    errors: list[str] = field(default_factory=list)

    def line(self, seconds: float) -> str:
        done = sorted(self.latencies)
        if not done:
            return f"{self.name}: none done, {self.apart} apart, {len(self.errors)} errors"
        return (
            f"{self.name}: {len(done)} done ({len(done) / seconds:.1f}/s), "
            f"p50 {percentile(done, 0.50):.1f} ms, p99 {percentile(done, 0.99):.1f} ms, "
            f"{self.apart} apart (race lost, nothing to cancel), {len(self.errors)} errors"
        )


@dataclass
class Host:
    slug: str
    zone: str
    free: list[str] = field(default_factory=list)  # starts seen free in the last answer


@dataclass
class Load:
    """The shared state of the client: hosts, manage tokens to cancel with, results."""

    clients: list[httpx.AsyncClient]
    hosts: list[Host]
    tokens: list[str] = field(default_factory=list)
    ops: dict[str, Operation] = field(default_factory=dict)
    measuring: bool = False

    def op(self, name: str) -> Operation:
        return self.ops.setdefault(name, Operation(name))


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_mib(process: psutil.Process) -> float:
    """Resident memory of a process and its children (uvicorn's, if any)."""
    tree = [process, *process.children(recursive=True)]
    total: int = sum(p.memory_info().rss for p in tree)
    return total / 2**20


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    if response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}: {response.text[:200]}")
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise BenchError(f"GraphQL errors: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


# ---------------------------------------------------------------- set-up


async def seed_users(database_url: str, hosts: int) -> list[str]:
    """`hosts` users on a paid seat, each in its own account; their API tokens."""
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    tokens: list[str] = []
    try:
        async with sessionmaker.begin() as session:
            for n in range(hosts):
                account = await create_account(session, f"Load Co {n}")
                user = await create_user(
                    session,
                    account,
                    email=f"host{n}@load.example",
                    name=f"Host {n}",
                    time_zone=ZONES[n % len(ZONES)],
                    seat=Seat.SALES,
                    tier=Tier.PROFESSIONAL,
                    url_prefix=f"host{n}",
                )
                _, token = await issue_token_row(session, user, "load", tuple(Scope))
                tokens.append(token)
    finally:
        await engine.dispose()
    return tokens


async def connect_hosts(
    database_url: str, base: str, tokens: list[str], radicale: Any
) -> list[Host]:
    """Each host connects its Radicale account over the API and publishes a page."""
    from tests.helpers.caldav import login
    from tests.helpers.caldav import new_account
    from tests.helpers.caldav_servers import PASSWORD

    hosts: list[Host] = []
    with httpx.Client(trust_env=False) as dav:
        for n, _ in enumerate(tokens):
            dav.auth = login(radicale, n)
            new_account(radicale, dav, n)
    async with httpx.AsyncClient(base_url=base, timeout=60, trust_env=False) as client:
        for n, token in enumerate(tokens):
            connected = await graphql(
                client,
                CONNECT,
                {
                    "i": {
                        "email": f"host{n}@load.example",
                        "username": radicale.user(n),
                        "password": PASSWORD,
                        "serverUrl": radicale.url,
                    }
                },
                token,
            )
            if connected["connectCalDavCalendar"]["__typename"] != "ConnectCalDavCalendarSuccess":
                raise BenchError(f"host {n} could not connect: {connected}")
            zone = ZONES[n % len(ZONES)]
            hours = [{"weekday": day, "start": "09:00", "end": "17:00"} for day in WEEKDAYS]
            page = {
                "title": "Intro",
                "durations": [30],
                "weeklyHours": hours,
                "timeZone": zone,
                "minimumNotice": 0,
            }
            created = await graphql(client, CREATE_PAGE, {"input": page}, token)
            answer = created["createSchedulingPage"]
            if answer["__typename"] != "CreateSchedulingPageSuccess":
                raise BenchError(f"host {n} could not publish a page: {answer}")
            hosts.append(Host(answer["page"]["slug"], zone))
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:  # S9: writes turned on
            await session.execute(update(CalendarConnection).values(calendar_sync_enabled=True))
    finally:
        await engine.dispose()
    return hosts


@dataclass
class SyncCounter:
    """Syncs the worker finished, seen as each connection's `last_synced_at` moving: the
    worker's periodic syncs run in its sweep, not as queued jobs, so no queue log counts
    them. Polled every `POLL_SECONDS`, far below the shortest sync interval (10 s), so no
    sync is missed."""

    database_url: str
    seen: dict[int, dt.datetime | None] = field(default_factory=dict)
    count: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        engine = create_engine(self.database_url)
        try:
            while not stop.is_set():
                async with engine.connect() as connection:
                    rows = await connection.execute(
                        select(CalendarConnection.id, CalendarConnection.last_synced_at)
                    )
                    for connection_id, synced_at in rows:
                        before = self.seen.get(connection_id)
                        if synced_at is not None and synced_at != before:
                            self.count += connection_id in self.seen
                        self.seen[connection_id] = synced_at
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        finally:
            await engine.dispose()


# ---------------------------------------------------------------- the load


async def timed(load: Load, name: str, call: Callable[[], Awaitable[bool]]) -> None:
    """One request: its latency when it succeeded, counted apart or as an error otherwise."""
    measuring = load.measuring  # a request counts where it started: warm-up or measured
    started = time.perf_counter()
    try:
        succeeded = await call()
    except (BenchError, httpx.HTTPError, KeyError, TypeError) as exc:
        if measuring:
            load.op(name).errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return
    if not measuring:
        return
    if succeeded:
        load.op(name).latencies.append((time.perf_counter() - started) * 1000)
    else:
        load.op(name).apart += 1


def windows(zone: str) -> list[tuple[str, str]]:
    today = dt.datetime.now(dt.UTC).date()
    start = dt.datetime.combine(today, dt.time(), dt.UTC)
    week = dt.timedelta(days=7)
    spans = [(start, start + week), (start + week, start + 2 * week)]
    spans.append((start, start + dt.timedelta(days=30)))
    return [(a.isoformat(), b.isoformat()) for a, b in spans]


async def read_slots(load: Load, rng: random.Random) -> bool:
    host = rng.choice(load.hosts)
    start, end = rng.choice(windows(host.zone))
    zone = rng.choice(ZONES)
    variables = {"slug": host.slug, "start": start, "end": end, "tz": zone}
    data = await graphql(rng.choice(load.clients), SLOTS, variables)
    answer = data["availableSlots"]
    if answer["__typename"] != "AvailableSlots":
        raise BenchError(f"availableSlots answered {answer}")
    host.free = [slot["start"] for day in answer["days"] for slot in day["slots"]]
    return True


async def book(load: Load, rng: random.Random, serial: int) -> bool:
    candidates = [host for host in load.hosts if host.free]
    if not candidates:
        raise BenchError("no free slot seen yet")
    host = rng.choice(candidates)
    start = rng.choice(host.free)
    contact = {"name": f"Contact {serial}", "email": f"contact{serial}@load.example"}
    fields = {"pageSlug": host.slug, "start": start, "timeZone": host.zone, "contact": contact}
    data = await graphql(rng.choice(load.clients), BOOK, {"input": fields})
    answer = data["bookMeeting"]
    if answer["__typename"] == "SlotUnavailable":
        return False
    if answer["__typename"] != "BookMeetingSuccess" or answer["offline"]:
        raise BenchError(f"bookMeeting answered {answer}")
    load.tokens.append(answer["manageToken"])
    return True


async def cancel(load: Load, rng: random.Random) -> bool:
    if not load.tokens:
        return False  # every booking made so far is cancelled already: nothing to send
    token = load.tokens.pop(rng.randrange(len(load.tokens)))
    data = await graphql(rng.choice(load.clients), CANCEL, {"input": {"manageToken": token}})
    answer = data["cancelBookingAsContact"]
    if answer["__typename"] != "CancelBookingAsContactSuccess":
        raise BenchError(f"cancelBookingAsContact answered {answer}")
    return True


async def arrivals(
    per_second: float,
    until: float,
    fire: Callable[[int], Coroutine[Any, Any, None]],
    shed: Callable[[int], None],
) -> None:
    """Open loop: start `fire(n)` every 1/per_second seconds until `until`, never waiting
    for an answer (`shed(n)` instead while `MAX_IN_FLIGHT` are); then wait for those in
    flight."""
    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / per_second
    due = time.monotonic()
    n = 0
    while due < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        due += interval
        n += 1
        if len(tasks) >= MAX_IN_FLIGHT:
            shed(n)
            continue
        task = asyncio.create_task(fire(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT_SECONDS * 2)


async def run_load(load: Load, args: argparse.Namespace, rng: random.Random) -> None:
    until = time.monotonic() + WARMUP_SECONDS + args.seconds

    async def measure_after_warmup() -> None:
        await asyncio.sleep(WARMUP_SECONDS)
        load.measuring = True

    def shed(name: str) -> Callable[[int], None]:
        def count(_: int) -> None:
            if load.measuring:
                load.op(name).errors.append(f"shed: {MAX_IN_FLIGHT} requests in flight")

        return count

    async def reads(_: int) -> None:
        await timed(load, "availableSlots", lambda: read_slots(load, rng))

    async def bookings(n: int) -> None:
        await timed(load, "bookMeeting", lambda: book(load, rng, n))

    async def cancels(_: int) -> None:
        await timed(load, "cancelBookingAsContact", lambda: cancel(load, rng))

    await asyncio.gather(
        measure_after_warmup(),
        arrivals(READS_PER_SECOND * args.rate, until, reads, shed("availableSlots")),
        arrivals(BOOKINGS_PER_SECOND * args.rate, until, bookings, shed("bookMeeting")),
        arrivals(CANCELS_PER_SECOND * args.rate, until, cancels, shed("cancelBookingAsContact")),
    )


# ---------------------------------------------------------------- the run


def start_worker(database_url: str, key: str, log_dir: Path, env: dict[str, str]) -> Any:
    log = log_dir / "worker.log"
    with log.open("wb") as stderr:
        return subprocess.Popen(
            [SLOTGRAPH, "worker", "--no-migrate"],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "SLOTGRAPH_SECRET_KEYS": key,
                "SLOTGRAPH_LOG_LEVEL": "WARNING",
                **LOAD_LIMITS,
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


async def bench(args: argparse.Namespace) -> int:
    from tests.helpers.caldav_servers import radicale

    rng = random.Random(args.seed)
    with (
        postgres_server() as (server_url, where),
        tempfile.TemporaryDirectory(prefix="slotgraph-mixed-") as tmp,
    ):
        root = Path(tmp)
        (root / "dav").mkdir()
        async with fresh_database(server_url) as database_url:
            engine = create_engine(database_url)
            await migrate(engine)
            await engine.dispose()
            tokens = await seed_users(database_url, args.hosts)
            shared = {
                "SLOTGRAPH_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",  # Radicale on loopback
                "SLOTGRAPH_SYNC_INTERVAL_SECONDS": str(args.sync_interval),
            }
            key = generate_key()
            api_env = {**shared, "SLOTGRAPH_RUN_WORKER": "false", "SLOTGRAPH_DB_POOL_SIZE": "5"}
            with radicale(root / "dav") as dav:
                apis: list[Served] = []
                worker = None
                try:
                    for _ in range(2):
                        apis.append(serve(database_url, key, root, workers=1, extra_env=api_env))
                    worker = start_worker(database_url, key, root, shared)
                    hosts = await connect_hosts(database_url, apis[0].base, tokens, dav)
                    processes = {
                        "api 1": psutil.Process(apis[0].process.pid),
                        "api 2": psutil.Process(apis[1].process.pid),
                        "worker": psutil.Process(worker.pid),
                    }
                    print(f"{len(hosts)} hosts connected; measuring", file=sys.stderr, flush=True)
                    return await measured(args, rng, database_url, where, apis, hosts, processes)
                finally:
                    for served in apis:
                        served.stop()
                    if worker is not None:
                        worker.terminate()
                        try:
                            worker.wait(20)
                        except subprocess.TimeoutExpired:
                            kill_group(worker)


async def measured(
    args: argparse.Namespace,
    rng: random.Random,
    database_url: str,
    where: str,
    apis: list[Served],
    hosts: list[Host],
    processes: dict[str, psutil.Process],
) -> int:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    clients = [
        httpx.AsyncClient(
            base_url=served.base, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits, trust_env=False
        )
        for served in apis
    ]
    load = Load(clients, hosts)
    memory_before: dict[str, float] = {}
    counter = SyncCounter(database_url)
    stop = asyncio.Event()
    syncs = 0

    async def sample_after_warmup() -> None:
        nonlocal syncs
        await asyncio.sleep(WARMUP_SECONDS)
        memory_before.update({name: rss_mib(p) for name, p in processes.items()})
        syncs = counter.count
        await asyncio.sleep(args.seconds)
        syncs = counter.count - syncs  # in the measured span

    async def load_then_stop() -> None:
        try:
            await run_load(load, args, rng)
        finally:
            stop.set()

    try:
        await asyncio.gather(sample_after_warmup(), load_then_stop(), counter.run(stop))
    finally:
        for client in clients:
            await client.aclose()
    seconds = args.seconds  # the measured arrivals' span (answers still due were awaited)
    print(
        f"mixed load on {where}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}: 2 API processes + 1 worker, "
        f"{args.hosts} hosts on Radicale, rate x{args.rate}, {seconds:.0f} s measured "
        f"after {WARMUP_SECONDS:.0f} s of warm-up"
    )
    for name in ("availableSlots", "bookMeeting", "cancelBookingAsContact"):
        print("  " + load.op(name).line(seconds))
    print(f"  syncs (worker, every {args.sync_interval} s each): {syncs} ({syncs / seconds:.2f}/s)")
    failed = False
    for name, process in processes.items():
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            print(f"  {name}: exited during the run")
            failed = True
            continue
        now = rss_mib(process)
        print(
            f"  memory {name}: {memory_before[name]:.0f} MiB after warm-up, {now:.0f} MiB "
            f"at the end ({now - memory_before[name]:+.0f} MiB)"
        )
    errors = [e for op in load.ops.values() for e in op.errors]
    for error, count in Counter(errors).most_common(10):
        print(f"  error ×{count}: {error}")
    return 1 if errors or failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="measured time")
    parser.add_argument("--rate", type=float, default=1.0, help="multiplies the model's rates")
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--sync-interval", type=int, default=30, help="seconds, at least 10")
    parser.add_argument("--seed", type=int, default=secrets.randbits(32))
    # SIGTERM as Ctrl-C: the servers, the worker and the database are cleaned up on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
