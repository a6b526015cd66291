"""GraphQL overhead: the `viewer` settings query against a plain JSON route.

What it measures: requests per second, over real HTTP on loopback against one uvicorn
process, for the dashboard's settings query (the viewer, their calendar settings with the
default page, and 20 scheduling pages), served two ways by the same process on the same
freshly seeded database in the same run:

- `POST /graphql`: the real application from `slotgraph.server.app.create_app` (bearer-token
  middleware, Strawberry with the production extensions, DataLoaders);
- `GET /plain`: a Starlette route added to that same application that does the same
  database work through the same use-case functions (authenticate the token, load the
  user, the settings and the 20 pages, then the base URL; the default page comes from the
  listed pages, as GraphQL's primed page loader gives it) and returns the same JSON
  document with `JSONResponse`.

Why: the target is GraphQL at >= 60% of the plain route's throughput. Absolute timings
drift on the shared 2-core machine, so the two routes are measured alternately in one run
and compared as a ratio. The server counts SQL statements per request on each route, so
the table shows that both do the same database work.

The load comes from this process (a separate process from the server, so the two never
share an event loop): `--connections` keep-alive HTTP/1.1 connections, each sending its
next request when the previous answer arrives, written on raw asyncio streams so the client
costs little CPU. Every answer must be a 200 with exactly the body checked beforehand.

Run from the repository root: `.venv/bin/python bench/graphql_overhead.py` (or
`-m bench.graphql_overhead`). It uses
`DATABASE_URL` when set (a server on which it may create a database), else the embedded
PostgreSQL in a temporary directory; the database it creates is dropped at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shlex
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy import make_url
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route

from bench.serve import LOAD_LIMITS
from bench.serve import free_port
from bench.serve import load_limit_settings
from slotgraph.clock import utc_now
from slotgraph.graph.relay import to_cursor
from slotgraph.graph.relay import to_global_id
from slotgraph.models import CalendarSettings
from slotgraph.models import ConnectedDomain
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import connect_raw
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from slotgraph.models.db import plain_url
from slotgraph.models.db import start_embedded_postgres
from slotgraph.models.db import stop_embedded_postgres
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.server.app import create_app
from slotgraph.server.auth import bearer_token
from slotgraph.server.logs import configure_logging
from slotgraph.server.runtime import offline_services
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from slotgraph.usecases import reads
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.pages import PageDraft
from slotgraph.usecases.pages import create_page
from slotgraph.usecases.pages import page_url
from slotgraph.usecases.tokens import authenticate
from slotgraph.usecases.tokens import issue_token

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from starlette.applications import Starlette
    from starlette.types import ASGIApp
    from starlette.types import Receive
    from starlette.types import Scope as AsgiScope
    from starlette.types import Send

    from slotgraph.server.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
PAGES = 20
PUBLIC_BASE_URL = "https://app.example"
MEETING_DOMAIN = "meet.example.com"
TARGET_RATIO = 0.60
T = TypeVar("T")
HOST = "127.0.0.1"  # loopback only

# Environment handed to the server process (the factory reads it).
ENV_DATABASE_URL = "SLOTGRAPH_BENCH_DATABASE_URL"
ENV_SECRET_KEY = "SLOTGRAPH_BENCH_SECRET_KEY"

QUERY = (
    "query Settings { viewer { id name timeZone calendarSettings { id meetingUrlPrefix "
    "schedulingPagesEnabled chatLinkEnabled meetingBaseUrl defaultMeetingPage { id title url } "
    "} schedulingPages(first: 20) { edges { cursor node { id title slug url durations } } "
    "pageInfo { hasNextPage endCursor } } } }"
)

# Bounds on every loop, whatever the flags say.
MAX_REQUESTS_PER_PHASE = 5_000_000
REQUEST_TIMEOUT_SECONDS = 10.0
SERVER_START_TIMEOUT_SECONDS = 60.0
SERVER_STOP_TIMEOUT_SECONDS = 10.0


class BenchError(Exception):
    """Something broke: a wrong answer, a dead server, a timeout. Exits non-zero."""


# ---------------------------------------------------------------- server side (uvicorn)

_route: ContextVar[str] = ContextVar("bench_route", default="")


@dataclass
class ServerStats:
    """Requests and SQL statements per path, counted inside the server process."""

    requests: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)


class CountRequests:
    """Outermost ASGI middleware: tags the request's context with its path (so SQL
    statements run on its behalf, in any task it spawns, are counted against it)."""

    def __init__(self, app: ASGIApp, stats: ServerStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        self.stats.requests[path] += 1  # counted on arrival: the client waits for answers
        token = _route.set(path)
        try:
            await self.app(scope, receive, send)
        finally:
            _route.reset(token)


def _plain_viewer(
    runtime: Runtime,
) -> Callable[[Request], Awaitable[Response]]:
    """The plain route: the same reads as the GraphQL query, through the same use-case
    functions, and the same JSON document, with no GraphQL in between."""
    sm = runtime.sessionmaker
    public_base_url = runtime.settings.public_base_url

    async def endpoint(request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization"))
        viewer = None if token is None else await authenticate(runtime.services, token)
        if viewer is None:
            return JSONResponse({"errors": [{"message": "unauthenticated"}]}, status_code=401)
        viewer.require(Scope.READ)
        user = (await reads.users(sm, viewer, [viewer.user_id]))[0]
        if user is None:
            return JSONResponse({"data": {"viewer": None}})
        # GraphQL resolves calendarSettings and schedulingPages concurrently; so does this.
        settings_rows, found = await asyncio.gather(
            reads.settings(sm, viewer, [user.id]), reads.list_pages(sm, viewer, PAGES, None)
        )
        row = settings_rows[0]
        base = (await reads.base_urls(sm, viewer, [user.id], public_base_url))[0]
        # The default page is usually among the pages just listed (GraphQL primes its page
        # loader with them too); only otherwise is it read by id.
        default_pk = None if row is None else row.default_page_id
        listed = {page.id: page for page in found.items}
        default = None
        if default_pk is not None:
            default = listed.get(default_pk) or (await reads.pages(sm, viewer, [default_pk]))[0]
        settings: dict[str, Any] | None = None
        if row is not None:
            settings = {
                "id": to_global_id("CalendarSettings", row.user_id),
                "meetingUrlPrefix": row.meeting_url_prefix,
                "schedulingPagesEnabled": row.pages_enabled,
                "chatLinkEnabled": row.chat_link_enabled,
                "meetingBaseUrl": base,
                "defaultMeetingPage": None
                if default is None
                else {
                    "id": to_global_id("SchedulingPage", default.id),
                    "title": default.title,
                    "url": page_url(base, default.slug),
                },
            }
        edges = [
            {
                "cursor": to_cursor(page.id),
                "node": {
                    "id": to_global_id("SchedulingPage", page.id),
                    "title": page.title,
                    "slug": page.slug,
                    "url": page_url(base, page.slug),
                    "durations": page.durations_minutes,
                },
            }
            for page in found.items
        ]
        return JSONResponse(
            {
                "data": {
                    "viewer": {
                        "id": to_global_id("User", user.id),
                        "name": user.name,
                        "timeZone": user.time_zone,
                        "calendarSettings": settings,
                        "schedulingPages": {
                            "edges": edges,
                            "pageInfo": {
                                "hasNextPage": found.has_next_page,
                                "endCursor": edges[-1]["cursor"] if edges else None,
                            },
                        },
                    }
                }
            }
        )

    return endpoint


def server_settings(database_url: str, public_base_url: str) -> Settings:
    """What a bench server process (`run_server`) runs with: production mode with the key
    it was handed in the environment, logging warnings only, as JSON."""
    settings = Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        secret_keys=(os.environ[ENV_SECRET_KEY],),
        public_base_url=public_base_url,
        log_level="WARNING",
        **load_limit_settings(),  # type: ignore[arg-type]
    )
    configure_logging(settings.log_level, json=True)
    return settings


def make_app() -> Starlette:
    """uvicorn factory: the real application plus `/plain` and `/bench/stats`."""
    database_url = os.environ[ENV_DATABASE_URL]
    app = create_app(server_settings(database_url, PUBLIC_BASE_URL), database_url)
    runtime: Runtime = app.state.runtime
    stats = ServerStats()

    def count_statement(*_: Any) -> None:
        stats.statements[_route.get()] += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count_statement)

    async def stats_endpoint(_: Request) -> Response:
        return JSONResponse(
            {"requests": dict(stats.requests), "statements": dict(stats.statements)}
        )

    app.router.routes.extend(
        [
            Route("/plain", _plain_viewer(runtime), methods=["GET"]),
            Route("/bench/stats", stats_endpoint, methods=["GET"]),
        ]
    )
    app.add_middleware(CountRequests, stats=stats)
    return app


# ---------------------------------------------------------------- database


async def _admin(url: str) -> asyncpg.Connection:
    connection: asyncpg.Connection = await connect_raw(url)
    return connection


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database with a random name on `server_url`, dropped on the way out."""
    name = f"slotgraph_bench_{secrets.token_hex(6)}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield plain_url(make_url(server_url).set(database=name))
    finally:
        admin = await _admin(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrate_and_seed(database_url: str) -> str:
    """Schema, one account and user with 20 pages, a meeting domain and a default page;
    returns the user's API token."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        await migrate(engine)
        sm: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        async with sm.begin() as session:
            account = await create_account(session, "Bench Co", custom_domains_enabled=True)
            user = await create_user(
                session,
                account,
                email="ada@bench.example",
                name="Ada Bench",
                time_zone="Europe/Berlin",
                seat=Seat.SALES,
                tier=Tier.PROFESSIONAL,
                url_prefix="ada",
            )
            token = await issue_token(session, user, name="bench")
            domain = ConnectedDomain(
                account_id=account.id, domain=MEETING_DOMAIN, verified_at=utc_now()
            )
            session.add(domain)
            await session.flush()
            domain_id, user_id = domain.id, user.id
        services = offline_services(sm, PUBLIC_BASE_URL)
        viewer = await authenticate(services, token)
        if viewer is None:
            raise BenchError("the freshly issued token does not authenticate")
        page_ids = [
            (
                await create_page(
                    services,
                    viewer,
                    PageDraft(title=f"Meeting type {i:02d}", durations=[15, 30, 45, 60]),
                )
            ).id
            for i in range(1, PAGES + 1)
        ]
        async with sm.begin() as session:
            await session.execute(
                update(CalendarSettings)
                .where(CalendarSettings.user_id == user_id)
                .values(default_page_id=page_ids[0], meeting_domain_id=domain_id)
            )
        return token
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- server process


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def server_command(port: int | str, factory: str = "bench.graphql_overhead:make_app") -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


@contextlib.contextmanager
def run_server(
    database_url: str,
    log_dir: Path,
    *,
    factory: str = "bench.graphql_overhead:make_app",
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[ServerProcess]:
    """One uvicorn process serving the app `factory` builds (`make_app` by default, with
    the bench's database URL and secret key in its environment, plus `env`) on `port` (a
    free one by default); stopped (then killed if need be) on exit."""
    port = port or free_port()
    environment = {
        **os.environ,
        ENV_DATABASE_URL: database_url,
        ENV_SECRET_KEY: generate_key(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    log_path = log_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(port, factory),
            cwd=REPO,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process=process, port=port, log_path=log_path)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=SERVER_STOP_TIMEOUT_SECONDS)


async def wait_until_ready(server: ServerProcess) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", trust_env=False) as http:
        for _ in range(int(SERVER_START_TIMEOUT_SECONDS / 0.1)):
            if server.process.poll() is not None:
                raise BenchError(f"the server exited at start:\n{server.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz", timeout=2.0)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    raise BenchError(f"the server was not ready in {SERVER_START_TIMEOUT_SECONDS:.0f} s")


# ---------------------------------------------------------------- client


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    request: bytes  # the whole HTTP/1.1 request, sent as is on a keep-alive connection
    expected_body: bytes


def request_bytes(method: str, path: str, port: int, token: str, body: bytes = b"") -> bytes:
    """A whole HTTP/1.1 request (`token` empty: an anonymous one)."""
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        *([f"Authorization: Bearer {token}"] if token else []),
        "Accept: application/json",
    ]
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _check_document(name: str, document: Any) -> None:
    try:
        viewer = document["data"]["viewer"]
        edges = viewer["schedulingPages"]["edges"]
        default = viewer["calendarSettings"]["defaultMeetingPage"]
    except (KeyError, TypeError):
        raise BenchError(f"{name}: unexpected answer {document!r:.500}") from None
    if "errors" in document or len(edges) != PAGES or default is None:
        raise BenchError(f"{name}: expected {PAGES} pages and no errors, got {document!r:.500}")


async def prepare_targets(port: int, token: str) -> list[Target]:
    """Ask both routes once with a real HTTP client, check the answers (200, 20 pages, the
    same JSON document from both) and keep the exact bodies to compare under load."""
    graphql_body = json.dumps({"query": QUERY, "operationName": "Settings"}).encode()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
        plain = await http.get("/plain", headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        graphql = await http.post(
            "/graphql",
            content=graphql_body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    for name, response in (("plain", plain), ("graphql", graphql)):
        if response.status_code != 200:
            raise BenchError(f"{name}: HTTP {response.status_code}: {response.text[:500]}")
        _check_document(name, response.json())
    if plain.json() != graphql.json():
        raise BenchError(
            f"the two routes disagree:\nplain:   {plain.text[:800]}\ngraphql: {graphql.text[:800]}"
        )
    return [
        Target("plain", "/plain", request_bytes("GET", "/plain", port, token), plain.content),
        Target(
            "graphql",
            "/graphql",
            request_bytes("POST", "/graphql", port, token, graphql_body),
            graphql.content,
        ),
    ]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise BenchError(f"response without Content-Length: {head[:300]!r}")


async def _worker(
    target: Target, port: int, deadline: float, budget: list[int], latencies: list[int]
) -> None:
    """One keep-alive connection: request, read the whole answer, check it, repeat."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter_ns()
            writer.write(target.request)
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                    head = await reader.readuntil(b"\r\n\r\n")
                    body = await reader.readexactly(_content_length(head))
            except TimeoutError:
                raise BenchError(
                    f"{target.name}: no answer within {REQUEST_TIMEOUT_SECONDS:g} s"
                ) from None
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise BenchError(f"{target.name}: the connection broke: {exc!r}") from None
            latencies.append(time.perf_counter_ns() - started)
            if head[9:12] != b"200" or body != target.expected_body:
                raise BenchError(
                    f"{target.name}: unexpected answer under load: {head[:100]!r} {body[:300]!r}"
                )
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@dataclass
class Phase:
    target: str
    round: int
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statements_per_request: float


async def _server_stats(port: int) -> dict[str, dict[str, int]]:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", trust_env=False) as http:
        response = await http.get("/bench/stats", timeout=REQUEST_TIMEOUT_SECONDS)
    response.raise_for_status()
    stats: dict[str, dict[str, int]] = response.json()
    return stats


async def keep_alive_load(
    target: Target, port: int, connections: int, duration: float
) -> tuple[list[int], float]:
    """`connections` keep-alive clients sending `target` for `duration` seconds, each its
    next request when the previous answer is in (and checked): the sorted latencies in
    nanoseconds and the seconds the phase took."""
    latencies: list[int] = []
    budget = [MAX_REQUESTS_PER_PHASE]
    started = time.perf_counter()
    deadline = started + duration
    async with asyncio.TaskGroup() as group:
        for _ in range(connections):
            group.create_task(_worker(target, port, deadline, budget, latencies))
    seconds = time.perf_counter() - started
    latencies.sort()
    return latencies, seconds


def p50_p99_ms(latencies: list[int]) -> tuple[float, float]:
    """The median and 99th percentile of sorted nanosecond latencies, in milliseconds."""
    n = len(latencies)
    return latencies[(n - 1) // 2] / 1e6, latencies[min(n - 1, (n * 99) // 100)] / 1e6


async def run_phase(
    target: Target, port: int, connections: int, duration: float, round_no: int
) -> Phase:
    before = await _server_stats(port)
    latencies, seconds = await keep_alive_load(target, port, connections, duration)
    after = await _server_stats(port)
    served = after["requests"].get(target.path, 0) - before["requests"].get(target.path, 0)
    statements = after["statements"].get(target.path, 0) - before["statements"].get(target.path, 0)
    if not latencies or served != len(latencies):
        raise BenchError(
            f"{target.name}: the server counted {served} requests, the client {len(latencies)}"
        )
    p50, p99 = p50_p99_ms(latencies)
    return Phase(
        target=target.name,
        round=round_no,
        connections=connections,
        requests=len(latencies),
        seconds=seconds,
        rps=len(latencies) / seconds,
        p50_ms=p50,
        p99_ms=p99,
        statements_per_request=statements / served,
    )


# ---------------------------------------------------------------- report


@dataclass
class Report:
    command: str
    server: str
    date: str
    cpus: int | None
    python: str
    database: str
    duration: float
    warmup: float
    connections: int
    rounds: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    phases: list[Phase]
    best_plain_rps: float
    best_graphql_rps: float
    ratio_best: float
    ratios_per_round: list[float]
    target_ratio: float
    target_met: bool


def summarise(args: argparse.Namespace, database: str, phases: list[Phase], load: Any) -> Report:
    best = {name: max(p.rps for p in phases if p.target == name) for name in ("plain", "graphql")}
    per_round = []
    for round_no in range(args.rounds):
        rps = {p.target: p.rps for p in phases if p.round == round_no}
        per_round.append(rps["graphql"] / rps["plain"])
    ratio = best["graphql"] / best["plain"]
    return Report(
        command=shlex.join([Path(sys.executable).name, *sys.argv]),
        server=shlex.join(["python", *server_command("PORT")[1:]]),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
        database=database,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        rounds=args.rounds,
        load_before=load,
        load_after=os.getloadavg(),
        phases=phases,
        best_plain_rps=best["plain"],
        best_graphql_rps=best["graphql"],
        ratio_best=ratio,
        ratios_per_round=per_round,
        target_ratio=TARGET_RATIO,
        target_met=ratio >= TARGET_RATIO,
    )


def print_table(report: Report) -> None:
    print(f"command:     {report.command}")
    print(f"server:      {report.server}")
    print(f"limits:      {LOAD_LIMITS} (C33)")
    print(
        f"date:        {report.date}; {report.cpus} CPUs; Python {report.python}; {report.database}"
    )
    print(
        f"load:        {report.connections} keep-alive connections, {report.duration:g} s per "
        f"phase after {report.warmup:g} s warm-up, {report.rounds} rounds alternating"
    )
    print(
        "loadavg:     before "
        + " ".join(f"{x:.2f}" for x in report.load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in report.load_after)
    )
    print()
    header = (
        f"{'round':>5}  {'target':<8} {'requests':>9} {'seconds':>8} {'req/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'SQL/req':>7}"
    )
    print(header)
    print("-" * len(header))
    for p in report.phases:
        print(
            f"{p.round + 1:>5}  {p.target:<8} {p.requests:>9} {p.seconds:>8.2f} {p.rps:>8.0f} "
            f"{p.p50_ms:>7.2f} {p.p99_ms:>7.2f} {p.statements_per_request:>7.2f}"
        )
    print()
    rounds = ", ".join(f"{r:.0%}" for r in report.ratios_per_round)
    print(
        f"best: plain {report.best_plain_rps:.0f} req/s, graphql {report.best_graphql_rps:.0f} "
        f"req/s; ratio graphql/plain {report.ratio_best:.0%} (per round: {rounds})"
    )
    verdict = "target met" if report.target_met else "target missed"
    print(f"{verdict} (graphql >= {report.target_ratio:.0%} of plain)")


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def postgres_server() -> Iterator[tuple[str, str]]:
    """(libpq URL of a server we may create databases on, a description of it)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        parsed = make_url(configured)
        yield configured, f"PostgreSQL at {parsed.host or 'socket'}:{parsed.port or 5432}"
        return
    with tempfile.TemporaryDirectory(prefix="slotgraph-bench-pg-") as data_dir:
        try:
            yield start_embedded_postgres(Path(data_dir)), "embedded PostgreSQL (pgserver)"
        finally:
            stop_embedded_postgres()


async def bench(args: argparse.Namespace) -> Report:
    load_before = os.getloadavg()
    with postgres_server() as (server_url, database), tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server_url) as database_url:
            token = await migrate_and_seed(database_url)
            with run_server(database_url, Path(tmp)) as server:
                try:
                    await wait_until_ready(server)
                    targets = await prepare_targets(server.port, token)
                    for target in targets:  # warm caches, pools and statement caches
                        await run_phase(
                            target, server.port, args.connections, args.warmup, round_no=-1
                        )
                    phases: list[Phase] = []
                    for round_no in range(args.rounds):
                        order = targets if round_no % 2 == 0 else targets[::-1]
                        for target in order:
                            phases.append(
                                await run_phase(
                                    target, server.port, args.connections, args.duration, round_no
                                )
                            )
                except BaseException:
                    if server.process.poll() is not None or args.verbose:
                        print(server.log_tail(), file=sys.stderr)
                    raise
                if server.process.poll() is not None:
                    raise BenchError(f"the server died:\n{server.log_tail()}")
    return summarise(args, database, phases, load_before)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase (5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per route (2)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (16)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of plain+graphql (2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--verbose", action="store_true", help="print the server log on error")
    args = parser.parse_args(argv)
    if not 0.5 <= args.duration <= 600 or not 0 < args.warmup <= 600:
        parser.error("--duration must be 0.5 to 600 s and --warmup more than 0 up to 600 s")
    if not 1 <= args.connections <= 256 or not 1 <= args.rounds <= 20:
        parser.error("--connections must be 1 to 256 and --rounds 1 to 20")
    return args


def run_fast(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed: a cheaper client leaves more CPU to the server."""
    try:
        import uvloop
    except ImportError:  # the standard loop works too, with a busier client
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_fast(bench(args))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print_table(report)
    return 0


def _failures(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, as a flat list."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _failures(inner)]
    return [exc]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, ExceptionGroup) as exc:
        for failure in _failures(exc):
            print(f"graphql_overhead: FAILED: {failure!r}", file=sys.stderr)
        sys.exit(1)
