"""`/metrics` from `slotgraph serve --workers 2`: on a port of its own that both workers
bind, behind the operator's token, and answering for both processes whichever one a
scrape reaches (prometheus_client's multiprocess mode).

The requests are spread over both workers by the kernel; each worker's own share is read
back from its files in the multiprocess directory, so the test knows both served some and
that every scrape adds them up."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import websockets
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.helpers.metrics import Samples
from tests.helpers.metrics import scrape
from tests.helpers.serving import free_port
from tests.helpers.serving import serve

TOKEN = "operator-metrics-token"
TYPENAME = {"query": "{ __typename }"}
BATCH = 20
QUERY = {"operation": "query", "field": "__typename", "result": "success"}


@dataclass
class Served:
    api: str
    metrics: str
    directory: Path


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("multiproc")
    (directory / "counter_1.db").write_bytes(b"left by an earlier run")  # cleaned at start
    port = free_port()
    env = {
        "SLOTGRAPH_RUN_WORKER": "false",
        "SLOTGRAPH_METRICS_PORT": str(port),
        "SLOTGRAPH_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    logs = tmp_path_factory.mktemp("serve")
    with serve(database_url, logs, workers=2, env=env) as base:
        yield Served(base, f"http://127.0.0.1:{port}/metrics", directory)


def per_process(directory: Path, scratch: Path) -> dict[int, float]:
    """Each worker's own count of `{ __typename }` queries, from its counter file alone."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        alone = scratch / str(pid)
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[pid] = Samples.parse(generate_latest(registry).decode())(
            "slotgraph_graphql_requests_total", **QUERY
        )
    return counts


async def fresh_connection_query(base: str) -> None:
    """One query on a connection of its own, so the kernel picks a worker for each."""
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=15) as client:
        assert (await client.post("/graphql", json=TYPENAME)).status_code == 200


async def test_a_scrape_of_either_worker_counts_the_requests_of_both(
    served: Served, tmp_path: Path
) -> None:
    sent = 0
    counts: dict[int, float] = {}
    while sent < 10 * BATCH and len([c for c in counts.values() if c > 0]) < 2:
        await asyncio.gather(*(fresh_connection_query(served.api) for _ in range(BATCH)))
        sent += BATCH
        counts = per_process(served.directory, tmp_path)
    assert len([c for c in counts.values() if c > 0]) == 2, counts  # both workers served
    assert sum(counts.values()) == sent
    assert 1 not in counts  # the earlier run's file was removed at start

    for _ in range(6):  # new connections: scrapes land on either worker
        async with httpx.AsyncClient(trust_env=False, timeout=15) as http:
            samples = await scrape(http, served.metrics, TOKEN)
        assert samples("slotgraph_graphql_requests_total", **QUERY) == sent
        assert (
            samples(
                "slotgraph_graphql_request_seconds_count", operation="query", field="__typename"
            )
            == sent
        )
        assert samples("slotgraph_metrics_database_up") == 1


async def test_open_websockets_are_summed_over_the_live_workers(served: Served) -> None:
    url = served.api.replace("http", "ws", 1) + "/graphql"
    sockets = [
        await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        for _ in range(4)
    ]
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=15) as http:
            for _ in range(4):
                samples = await scrape(http, served.metrics, TOKEN)
                assert samples("slotgraph_websockets_open") == 4
    finally:
        for socket in sockets:
            await socket.close()


async def test_the_metrics_port_is_bound_by_both_workers_and_needs_the_token(
    served: Served,
) -> None:
    port = int(served.metrics.rsplit(":", 1)[1].split("/")[0])
    listening = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    }
    assert len(listening) == 2, listening
    async with httpx.AsyncClient(trust_env=False, timeout=15) as http:
        assert (await http.get(served.metrics)).status_code == 401
        wrong = await http.get(served.metrics, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        # Not on the API's port: the API's clients never see it.
        assert (await http.get(f"{served.api}/metrics")).status_code == 404
