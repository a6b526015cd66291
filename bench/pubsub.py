"""Change notices by LISTEN/NOTIFY and by NATS, side by side: latency and cost per delivery.

What it measures: one publisher and `--receivers` receivers (each a pub/sub object with its
own connection, as API processes have) on one broker; every receiver subscribes to
`--ids` ids of one channel, so each notice wakes one subscriber per receiver. The publisher
sends `--notices` notices, one id per `publish` call (as commits do), at `--rate` per second,
cycling over the ids. For each kind it prints:
- latency from the `publish` call to a subscriber's wake-up, p50 and p99;
- client CPU per delivery: this process's CPU time (publisher and receivers, all in this
  one process) over the deliveries;
- broker CPU per notice: the `nats-server` process, or the PostgreSQL backends of the
  benchmark's database (the publisher's pool and each receiver's listener), over the notices.
Kinds alternate (`--repeats` rounds of postgres, nats), so their ratio is measured under the
same load on a shared machine. The machine's own NATS server is never used unless no
`nats-server` binary is found (then its CPU is not measured).

Run from the repository root: `.venv/bin/python bench/pubsub.py` or
`.venv/bin/python -m bench.pubsub`. It uses `DATABASE_URL` when set (a server on which it may
create a database), else the embedded PostgreSQL; the database is dropped at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.graphql_overhead import fresh_database
from bench.graphql_overhead import postgres_server
from bench.graphql_overhead import run_fast
from bench.nats_server import fallback_url
from bench.nats_server import nats_server_binary
from bench.nats_server import private_nats_server
from slotgraph.models.db import create_engine
from slotgraph.notices.nats_pubsub import NatsPubSub
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from slotgraph.notices.pubsub import Subscription

CHANNEL = "page"
WAIT = 30.0  # seconds: the longest the deliveries of one round may take
Broker = PostgresPubSub | NatsPubSub


@dataclass
class Round:
    kind: str
    latencies: list[float] = field(default_factory=list)
    deliveries: int = 0
    client_cpu: float = 0.0
    broker_cpu: float | None = None
    notices: int = 0
    seconds: float = 0.0  # publishing them (the rate reached)


def cpu_seconds(processes: list[psutil.Process]) -> float | None:
    try:
        return sum(sum(p.cpu_times()[:2]) for p in processes)
    except psutil.Error:
        return None


async def database_backends(engine: AsyncEngine) -> list[psutil.Process]:
    """The backends connected to the benchmark's database (the pool and the listeners)."""
    async with engine.connect() as connection:
        pids = (
            await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ).scalars()
        found = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
        return found


async def one_round(
    kind: str,
    publisher: Broker,
    receivers: list[Broker],
    broker: list[psutil.Process],
    args: argparse.Namespace,
) -> Round:
    found = Round(kind)
    sent: dict[str, float] = {}
    ids = [str(n) for n in range(args.ids)]
    expected = args.notices * len(receivers)
    done = asyncio.Event()

    async def listen(subscription: Subscription) -> None:
        async for id in subscription:
            found.latencies.append(time.perf_counter() - sent[id])
            found.deliveries += 1
            if found.deliveries >= expected:
                done.set()

    subscriptions = [r.subscribe(CHANNEL, id) for r in receivers for id in ids]
    tasks = [asyncio.create_task(listen(s)) for s in subscriptions]
    await asyncio.sleep(0.2)  # settle
    client_before, broker_before = time.process_time(), cpu_seconds(broker)
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for n in range(args.notices):
        id = ids[n % len(ids)]
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[id] = time.perf_counter()
        await publisher.publish(CHANNEL, id)
    found.notices = args.notices
    found.seconds = time.perf_counter() - start
    try:
        await asyncio.wait_for(done.wait(), WAIT)
    except TimeoutError:
        print(f"  {kind}: {found.deliveries}/{expected} delivered (merged or lost)")
    found.client_cpu = time.process_time() - client_before
    broker_after = cpu_seconds(broker)
    if broker_before is not None and broker_after is not None:
        found.broker_cpu = broker_after - broker_before
    for subscription in subscriptions:
        subscription.close()
    await asyncio.gather(*tasks)
    return found


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(rounds: list[Round]) -> str:
    latencies = [v for r in rounds for v in r.latencies]
    deliveries = sum(r.deliveries for r in rounds)
    notices = sum(r.notices for r in rounds)
    rate = notices / max(sum(r.seconds for r in rounds), 1e-9)
    client = sum(r.client_cpu for r in rounds) / max(deliveries, 1) * 1e6
    brokers = [r.broker_cpu for r in rounds]
    broker = (
        "n/a"
        if any(b is None for b in brokers)
        else f"{sum(b for b in brokers if b is not None) / max(notices, 1) * 1e6:.1f} µs"
    )
    return (
        f"{rounds[0].kind:>8}: latency p50 {statistics.median(latencies) * 1e3:.2f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms; client CPU {client:.1f} µs/delivery; "
        f"broker CPU {broker}/notice ({deliveries} deliveries of {notices} notices "
        f"published at {rate:.0f}/s)"
    )


@contextlib.contextmanager
def nats_broker() -> Iterator[tuple[str, list[psutil.Process]]]:
    if nats_server_binary() is None:
        url = fallback_url()
        if url is None:
            raise SystemExit("no nats-server binary and none on 127.0.0.1:4222")
        yield url, []
        return
    with private_nats_server() as server:
        yield server.url, [psutil.Process(server.pid)]


async def bench(args: argparse.Namespace) -> list[str]:
    with postgres_server() as (server_url, _), nats_broker() as (nats_url, nats_procs):
        async with fresh_database(server_url) as database_url:
            engine = create_engine(database_url, pool_size=2, max_overflow=0)
            prefix = f"bench_{secrets.token_hex(4)}"
            kinds: dict[str, tuple[Broker, list[Broker]]] = {
                "postgres": (
                    PostgresPubSub(database_url),
                    [PostgresPubSub(database_url) for _ in range(args.receivers)],
                ),
                "nats": (
                    NatsPubSub([nats_url], subject_prefix=prefix),
                    [NatsPubSub([nats_url], subject_prefix=prefix) for _ in range(args.receivers)],
                ),
            }
            for _, receivers in kinds.values():
                for receiver in receivers:
                    await receiver.start()
            await kinds["postgres"][0].publish(CHANNEL, "warm")
            await kinds["nats"][0].publish(CHANNEL, "warm")
            pg_backends = await database_backends(engine)
            results: dict[str, list[Round]] = {kind: [] for kind in kinds}
            try:
                for repeat in range(args.repeats):
                    for kind, (publisher, receivers) in kinds.items():
                        broker = pg_backends if kind == "postgres" else nats_procs
                        found = await one_round(kind, publisher, receivers, broker, args)
                        results[kind].append(found)
                        print(f"  round {repeat + 1} {summary([found])}")
            finally:
                for publisher, receivers in kinds.values():
                    for pubsub in (publisher, *receivers):
                        await pubsub.stop()
                await engine.dispose()
    return [summary(rounds) for rounds in results.values()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--receivers", type=int, default=4, help="receiving processes")
    parser.add_argument("--ids", type=int, default=50, help="ids each receiver watches")
    parser.add_argument("--notices", type=int, default=2_000, help="notices per round")
    parser.add_argument("--rate", type=float, default=1_000.0, help="notices per second")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of each kind")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"{args.receivers} receivers × {args.ids} ids, {args.notices} notices at "
        f"{args.rate:.0f}/s, {args.repeats} rounds of each kind; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for line in run_fast(bench(args)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
