"""Gauges read from the database when `/metrics` is scraped, so every worker answers the
same figures and none keeps them up to date in between: the outbox's depth and how long its
oldest due delivery has waited, the job queue's depth per entrypoint and status, and how far
behind calendar sync is per provider.

A scrape must not hang on a busy database: the reads share one short transaction with a
`statement_timeout`, and the whole read (a pool checkout included) is bounded. When it fails,
the scrape still answers, with `slotgraph_metrics_database_up 0` and without these gauges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from slotgraph.models import CalendarConnection
from slotgraph.models import OutboxMessage
from slotgraph.models import User
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.outbox import OutboxState

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

log = structlog.get_logger("slotgraph.metrics")

STATEMENT_TIMEOUT_MS = 1_000
READ_TIMEOUT_SECONDS = 2.0
# pgqueuer's table is not mapped (`slotgraph.models.queue`); the statuses that are work.
JOBS = text(
    "SELECT entrypoint, status::text, count(*) FROM pgqueuer "
    "WHERE status IN ('queued', 'picked', 'failed') GROUP BY entrypoint, status"
)


@dataclass(frozen=True, slots=True)
class Backlog:
    """One reading: `jobs` by (entrypoint, status); `sync` by provider: (connections,
    seconds since the least recently synced one last synced, or was connected)."""

    outbox_pending: int
    outbox_due: int
    outbox_oldest_due_seconds: float
    jobs: dict[tuple[str, str], int]
    sync: dict[str, tuple[int, float]]


async def read_backlog(sessionmaker: async_sessionmaker[AsyncSession]) -> Backlog | None:
    """The backlog now, or None when the database did not answer in time."""
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS), sessionmaker.begin() as session:
            await session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            return await _read(session)
    except Exception as error:  # a scrape answers whatever the database does
        log.warning("metrics: database gauges unavailable", error=repr(error))
        return None


async def _read(session: AsyncSession) -> Backlog:
    now = func.now()
    due = OutboxMessage.available_at <= now
    outbox = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(due),
                func.coalesce(
                    func.extract("epoch", now - func.min(OutboxMessage.available_at).filter(due)),
                    0,
                ),
            ).where(OutboxMessage.state == OutboxState.PENDING)
        )
    ).one()
    jobs = {(str(e), str(s)): int(n) for e, s, n in (await session.execute(JOBS)).all()}
    last_synced = func.coalesce(CalendarConnection.last_synced_at, CalendarConnection.created_at)
    sync_rows = await session.execute(
        select(
            CalendarConnection.provider,
            func.count(),
            func.extract("epoch", now - func.min(last_synced)),
        )
        .join(User, User.id == CalendarConnection.user_id)
        .where(
            CalendarConnection.status == ConnectionStatus.CONNECTED,
            User.deactivated_at.is_(None),
        )
        .group_by(CalendarConnection.provider)
    )
    return Backlog(
        outbox_pending=int(outbox[0]),
        outbox_due=int(outbox[1]),
        outbox_oldest_due_seconds=max(0.0, float(outbox[2])),
        jobs=jobs,
        sync={row[0].value: (int(row[1]), max(0.0, float(row[2]))) for row in sync_rows},
    )


@dataclass(frozen=True, slots=True)
class BacklogFamilies:
    """A reading as metric families (`slotgraph.observability.prometheus.Families`)."""

    backlog: Backlog | None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "slotgraph_metrics_database_up",
            "Whether this scrape could read the database gauges below.",
            value=0 if self.backlog is None else 1,
        )
        yield up
        backlog = self.backlog
        if backlog is None:
            return
        yield GaugeMetricFamily(
            "slotgraph_outbox_pending",
            "Outbox deliveries (calendar writes, emails) not yet done.",
            value=backlog.outbox_pending,
        )
        yield GaugeMetricFamily(
            "slotgraph_outbox_due",
            "Pending outbox deliveries whose time has come.",
            value=backlog.outbox_due,
        )
        yield GaugeMetricFamily(
            "slotgraph_outbox_oldest_due_age_seconds",
            "How long the oldest due outbox delivery has waited (0: none due).",
            value=backlog.outbox_oldest_due_seconds,
        )
        jobs = GaugeMetricFamily(
            "slotgraph_jobs",
            "Jobs in the queue by entrypoint and status (queued, picked, failed: parked).",
            labels=["entrypoint", "status"],
        )
        for (entrypoint, status), count in sorted(backlog.jobs.items()):
            jobs.add_metric([entrypoint, status], count)
        yield jobs
        connections = GaugeMetricFamily(
            "slotgraph_sync_connections",
            "Connected calendar accounts of active users, by provider.",
            labels=["provider"],
        )
        lag = GaugeMetricFamily(
            "slotgraph_sync_lag_seconds",
            "Seconds since the least recently synced connection of the provider last synced "
            "(or was connected, if it never has).",
            labels=["provider"],
        )
        for provider, (count, seconds) in sorted(backlog.sync.items()):
            connections.add_metric([provider], count)
            lag.add_metric([provider], seconds)
        yield connections
        yield lag
