"""Fan-out latency of live availability: one change to 1,000 websocket subscribers.

What it measures: two `slotgraph serve` processes (A and B) on one fresh database, and
`--subscribers` graphql-transport-ws clients (1,000; half on each process, one
`availabilityChanged` subscription per socket, so the per-socket limit keeps its meaning),
all watching the same page and day. Each round books one slot through `bookMeeting` on
A; every subscriber must then receive the event whose day no longer lists that slot. The
latency of a delivery is the time from sending the mutation (the commit happens inside
it, so this is an upper bound on commit-to-delivery) to the subscriber's socket reading
the event. The mutation's own round trip is printed too. Target: p99 <= 1 s.

The clients are raw websockets in this one process (cheaper than a full GraphQL client
per socket); loopback only; every loop is bounded by `--rounds`, and every wait by a
timeout. A subscriber that misses an event, or receives a wrong one, fails the run.

Run from the repository root: `.venv/bin/python bench/fanout.py` or
`.venv/bin/python -m bench.fanout` (`--subscribers`, `--rounds`). It uses `DATABASE_URL`
when set (a server on which it may create a database), else the embedded PostgreSQL in a
temporary directory; the database it creates is dropped at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.graphql_overhead import fresh_database, postgres_server, run_fast
from bench.serve import Served, serve
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import create_engine, create_sessionmaker, migrate
from slotgraph.models.enums import Scope
from slotgraph.usecases.accounts import create_account, create_user
from slotgraph.usecases.tokens import issue_token

WAIT = 30.0  # seconds: the longest any single step may take before the run fails
SUBSCRIBE = """
subscription Slots($slug: String!, $start: DateTime!, $end: DateTime!) {
  availabilityChanged(pageSlug: $slug, start: $start, end: $end, timeZone: "UTC") {
    __typename
    ... on AvailabilityChange { snapshot days { date starts } }
    ... on Error { message }
  }
}
"""
CREATE_PAGE = """
mutation($input: CreateSchedulingPageInput!) {
  createSchedulingPage(input: $input) { ... on CreateSchedulingPageSuccess { page { slug } } }
}
"""
BOOK = """
mutation($input: BookMeetingInput!) { bookMeeting(input: $input) { __typename } }
"""


class BenchError(Exception):
    pass


@dataclass
class Subscriber:
    process: str
    socket: ClientConnection


def raise_file_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < needed:
        raise BenchError(f"need {needed} open files, the hard limit is {hard} (ulimit -n)")
    return soft


async def seed(database_url: str) -> str:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine).begin() as session:
            account = await create_account(session, "Bench company")
            user = await create_user(
                session, account, email="host@bench.test", name="Host", url_prefix="host"
            )
            token: str = await issue_token(session, user, name="bench", scopes=tuple(Scope))
    finally:
        await engine.dispose()
    return token


def next_monday() -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today + dt.timedelta(days=7 - today.weekday())


async def subscribe(served: Served, name: str, variables: dict[str, str], slots: int) -> Subscriber:
    """A socket with one subscription, returned once its snapshot arrived."""
    # The client offers permessage-deflate as browsers do; the server declines it.
    socket = await connect(
        served.ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        open_timeout=WAIT,
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = json.loads(await asyncio.wait_for(socket.recv(), WAIT))
    if ack["type"] != "connection_ack":
        raise BenchError(f"no connection_ack: {ack}")
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": variables},
            }
        )
    )
    snapshot, _ = await receive(socket)
    [day] = snapshot["days"]
    if not snapshot["snapshot"] or len(day["starts"]) != slots:
        raise BenchError(f"unexpected snapshot: {snapshot}")
    return Subscriber(name, socket)


async def receive(socket: ClientConnection) -> tuple[dict[str, Any], float]:
    """The next `availabilityChanged` payload and when its frame was read (answering pings
    on the way)."""
    for _ in range(10):
        frame = await asyncio.wait_for(socket.recv(), WAIT)
        arrived = time.perf_counter()
        message = json.loads(frame)
        if message["type"] == "ping":
            await socket.send(json.dumps({"type": "pong"}))
            continue
        if message["type"] != "next":
            raise BenchError(f"unexpected message: {message}")
        event: dict[str, Any] = message["payload"]["data"]["availabilityChanged"]
        if event["__typename"] != "AvailabilityChange":
            raise BenchError(f"error event: {event}")
        return event, arrived
    raise BenchError("only pings")


async def deliveries(subscribers: list[Subscriber], booked: str) -> list[tuple[str, float]]:
    """(process, arrival time) per subscriber, each checked to no longer list `booked`."""

    async def one(subscriber: Subscriber) -> tuple[str, float]:
        event, arrived = await receive(subscriber.socket)
        starts = [start for day in event["days"] for start in day["starts"]]
        if event["snapshot"] or booked in starts:
            raise BenchError(f"wrong event: {event}")
        return subscriber.process, arrived

    return await asyncio.gather(*(one(s) for s in subscribers))


def cpu_seconds(served: Served) -> float:
    """User + system CPU time of the server process so far (Linux /proc)."""
    fields = Path(f"/proc/{served.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    raise_file_limit(args.subscribers + 200)
    load_before = os.getloadavg()[0]
    monday = next_monday()
    start = dt.datetime.combine(monday, dt.time(), dt.UTC)
    rounds: list[dict[str, Any]] = []
    with postgres_server() as (server_url, database), tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server_url) as database_url:
            token = await seed(database_url)
            key = generate_key()
            a = serve(database_url, key, Path(tmp), extra_env={"SLOTGRAPH_LOG_LEVEL": "ERROR"})
            b = serve(database_url, key, Path(tmp), extra_env={"SLOTGRAPH_LOG_LEVEL": "ERROR"})
            subscribers: list[Subscriber] = []
            try:
                async with httpx.AsyncClient(base_url=a.base, timeout=WAIT) as http:
                    created = await http.post(
                        "/graphql",
                        headers={"Authorization": f"Bearer {token}"},
                        json={
                            "query": CREATE_PAGE,
                            "variables": {
                                "input": {
                                    "title": "Fan-out",
                                    "durations": [30],
                                    "timeZone": "UTC",
                                    "bookingWindowDays": 365,
                                    "weeklyHours": [
                                        {"weekday": "MONDAY", "start": "08:00", "end": "18:00"}
                                    ],
                                }
                            },
                        },
                    )
                    slug = created.json()["data"]["createSchedulingPage"]["page"]["slug"]
                    variables = {
                        "slug": slug,
                        "start": start.isoformat(),
                        "end": (start + dt.timedelta(days=1)).isoformat(),
                    }
                    slots = 10 * 4 - 1  # 08:00-18:00, every 15 minutes, 30 minutes long
                    began = time.perf_counter()
                    gate = asyncio.Semaphore(50)  # connect 50 at a time

                    async def one(index: int) -> Subscriber:
                        served, name = (a, "A") if index % 2 == 0 else (b, "B")
                        async with gate:
                            return await subscribe(served, name, variables, slots)

                    subscribers = list(
                        await asyncio.gather(*(one(i) for i in range(args.subscribers)))
                    )
                    connect_seconds = time.perf_counter() - began
                    await asyncio.sleep(1)  # let the snapshot burst settle
                    for round_no in range(args.rounds):
                        # Slots one hour apart, so each booking takes a slot still free.
                        booked = dt.datetime.combine(monday, dt.time(8 + round_no), dt.UTC)
                        pending = asyncio.ensure_future(deliveries(subscribers, booked.isoformat()))
                        cpu_before = (cpu_seconds(a), cpu_seconds(b), time.process_time())
                        sent = time.perf_counter()
                        answer = await http.post(
                            "/graphql",
                            json={
                                "query": BOOK,
                                "variables": {
                                    "input": {
                                        "pageSlug": slug,
                                        "start": booked.isoformat(),
                                        "timeZone": "UTC",
                                        "contact": {
                                            "name": "Bench",
                                            "email": f"c{round_no}@bench.test",
                                        },
                                    }
                                },
                            },
                        )
                        answered = time.perf_counter()
                        if answer.json() != {
                            "data": {"bookMeeting": {"__typename": "BookMeetingSuccess"}}
                        }:
                            raise BenchError(f"booking failed: {answer.text}")
                        arrivals = await asyncio.wait_for(pending, WAIT)
                        cpu_ms = [
                            (cpu_seconds(served) - before) * 1000
                            for served, before in zip((a, b), cpu_before[:2], strict=True)
                        ]
                        client_cpu_ms = (time.process_time() - cpu_before[2]) * 1000
                        latencies = [arrived - sent for _, arrived in arrivals]
                        rounds.append(
                            {
                                "round": round_no,
                                "mutation_ms": (answered - sent) * 1000,
                                "p50_ms": percentile(latencies, 0.50) * 1000,
                                "p99_ms": percentile(latencies, 0.99) * 1000,
                                "max_ms": max(latencies) * 1000,
                                "p99_by_process_ms": {
                                    name: percentile(
                                        [t - sent for p, t in arrivals if p == name], 0.99
                                    )
                                    * 1000
                                    for name in ("A", "B")
                                },
                                "server_cpu_ms": {"A": cpu_ms[0], "B": cpu_ms[1]},
                                "client_cpu_ms": client_cpu_ms,
                                "latencies": latencies,
                            }
                        )
                        await asyncio.sleep(0.5)
            finally:
                await asyncio.gather(
                    *(s.socket.close() for s in subscribers), return_exceptions=True
                )
                codes = (a.stop(), b.stop())
            if codes != (0, 0):
                raise BenchError(f"a server did not stop cleanly: {codes}")
    everything = [latency for r in rounds for latency in r.pop("latencies")]
    return {
        "database": database,
        "load_before": load_before,
        "subscribers": args.subscribers,
        "processes": 2,
        "connect_seconds": connect_seconds,
        "rounds": rounds,
        "p50_ms": percentile(everything, 0.50) * 1000,
        "p99_ms": percentile(everything, 0.99) * 1000,
        "mean_ms": statistics.fmean(everything) * 1000,
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"load average before: {report['load_before']:.2f} (2 cores; other work slows this)")
    print(
        f"fan-out: {report['subscribers']} subscribers over {report['processes']} processes "
        f"({report['database']}), connected in {report['connect_seconds']:.1f} s"
    )
    print("round  mutation ms  p50 ms  p99 ms  max ms  p99 A / B ms  CPU ms: server A / B, client")
    for r in report["rounds"]:
        by, cpu = r["p99_by_process_ms"], r["server_cpu_ms"]
        print(
            f"{r['round']:>5}  {r['mutation_ms']:>11.1f}  {r['p50_ms']:>6.1f}  "
            f"{r['p99_ms']:>6.1f}  {r['max_ms']:>6.1f}  {by['A']:>6.1f} / {by['B']:<6.1f}  "
            f"{cpu['A']:>6.1f} / {cpu['B']:.1f}, {r['client_cpu_ms']:.1f}"
        )
    verdict = "target met" if report["p99_ms"] <= 1000 else "target missed"
    print(
        f"all rounds: p50 {report['p50_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms "
        f"(target p99 <= 1000 ms): {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=1_000, help="websockets (1000)")
    parser.add_argument("--rounds", type=int, default=5, help="bookings, one per round (5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not 2 <= args.subscribers <= 10_000 or not 1 <= args.rounds <= 10:
        parser.error("--subscribers must be 2 to 10000 and --rounds 1 to 10")
    report = run_fast(bench(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"fanout: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
