"""The Prometheus `Recorder` and one scrape's exposition, for a single process or for every
worker of `slotgraph serve --workers N`.

Several workers use prometheus_client's multiprocess mode: `serve` points
`PROMETHEUS_MULTIPROC_DIR` at an emptied directory before the workers start, each worker
writes its samples into its own memory-mapped files there, and whichever worker answers a
scrape sums them all (counters and histograms over every process that ever ran; the open
socket gauges over live processes only, `livesum`). A worker that died leaves its gauge files
behind: a scrape drops those of processes no longer running (`mark_process_dead`), since
nothing else learns of a killed worker. One process (`--workers 1`, tests) keeps its samples
in memory, in the recorder's own registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Protocol

import psutil
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.multiprocess import mark_process_dead

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Families(Protocol):
    """Metric families made at scrape time (`slotgraph.observability.backlog`)."""

    def collect(self) -> Iterable[Metric]: ...


class PrometheusRecorder:
    """`Recorder` in Prometheus metrics. `multiprocess_dir`: the directory of multiprocess
    mode (the value of `PROMETHEUS_MULTIPROC_DIR`, which prometheus_client reads by itself
    when it is imported), or None for one process."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # A registry per recorder, not prometheus_client's global one: two apps in one
        # process (tests) do not clash, and each scrapes its own samples.
        self.registry = CollectorRegistry()
        counter = partial(Counter, registry=self.registry)
        histogram = partial(Histogram, registry=self.registry)
        # livesum: across worker processes, what is open in the live ones, added up.
        open_now = partial(Gauge, registry=self.registry, multiprocess_mode="livesum")
        self._requests = counter(
            "slotgraph_graphql_requests",
            "GraphQL root fields answered, by operation type, root field and result (C48).",
            ["operation", "field", "result"],
        )
        self._request_seconds = histogram(
            "slotgraph_graphql_request_seconds",
            "Duration of GraphQL operations (queries and mutations), by root field.",
            ["operation", "field"],
        )
        self._provider_calls = counter(
            "slotgraph_provider_calls",
            "Calls into provider adapters, by provider, operation and outcome.",
            ["provider", "operation", "outcome"],
        )
        self._provider_seconds = histogram(
            "slotgraph_provider_call_seconds",
            "Duration of provider adapter calls (their retries included).",
            ["provider", "operation"],
        )
        self._websockets = open_now(
            "slotgraph_websockets_open", "Accepted /graphql websockets now open."
        )
        self._subscriptions = open_now(
            "slotgraph_subscriptions_open", "GraphQL subscriptions now running."
        )

    def graphql_request(
        self, operation: str, field: str, result: str, seconds: float | None
    ) -> None:
        self._requests.labels(operation, field, result).inc()
        if seconds is not None:
            self._request_seconds.labels(operation, field).observe(seconds)

    def provider_call(self, provider: str, operation: str, outcome: str, seconds: float) -> None:
        self._provider_calls.labels(provider, operation, outcome).inc()
        self._provider_seconds.labels(provider, operation).observe(seconds)

    def websockets_open(self, change: int) -> None:
        self._websockets.inc(change)

    def subscriptions_open(self, change: int) -> None:
        self._subscriptions.inc(change)

    def exposition(self, *extra: Families) -> bytes:
        """The text format of this process's samples (or every worker's) and `extra`."""
        if self.multiprocess_dir is None:
            body = generate_latest(self.registry)
        else:
            forget_dead_processes(self.multiprocess_dir)
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
            body = generate_latest(merged)
        return body + b"".join(generate_latest(families) for families in extra)


def prepare_multiprocess_dir(directory: Path) -> None:
    """Create `directory` or empty it of an earlier run's files (prometheus_client requires a
    clean directory at start: old files would add a finished run's counts)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def forget_dead_processes(directory: Path) -> None:
    """Drop the live-gauge files of processes that are gone (a killed or restarted worker),
    so its open sockets stop counting."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
