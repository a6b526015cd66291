"""Running due syncs: claim due connections (`FOR UPDATE SKIP LOCKED` plus a lease, so any
number of workers share the work) and sync them with bounded concurrency. The job queue's
workers run this as a periodic sweep (`slotgraph.server.worker.register_sync`); on-demand syncs and
push notifications enqueue `sync_connection(ctx, id)` jobs instead (idempotent, see
`slotgraph.calsync.engine`)."""

from __future__ import annotations

import anyio
import structlog

from slotgraph.calsync.context import Outcome, SyncContext
from slotgraph.calsync.engine import run_claimed
from slotgraph.calsync.leases import claim_due

log = structlog.get_logger("slotgraph.sync")


async def run_due_syncs(ctx: SyncContext, *, limit: int | None = None) -> list[Outcome]:
    """Claim up to `limit` (default: the configured batch) due connections and sync them,
    at most `config.concurrency` at once; the outcomes in claim order."""
    claimed = await claim_due(ctx, limit if limit is not None else ctx.config.batch)
    outcomes: list[Outcome | None] = [None] * len(claimed)
    limiter = anyio.CapacityLimiter(ctx.config.concurrency)

    async def one(index: int) -> None:
        async with limiter:
            outcomes[index] = await run_claimed(ctx, claimed[index])

    async with anyio.create_task_group() as group:
        for index in range(len(claimed)):
            group.start_soon(one, index)
    return [outcome for outcome in outcomes if outcome is not None]
