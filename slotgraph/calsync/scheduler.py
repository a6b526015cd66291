"""Running due syncs: claim due connections (`FOR UPDATE SKIP LOCKED` plus a lease, so any
number of workers share the work) and sync them with bounded concurrency. The job queue's
workers run `sweep_due_syncs` as a periodic sweep (`slotgraph.server.worker.register_sync`);
on-demand syncs and push notifications enqueue `sync_connection(ctx, id)` jobs instead
(idempotent, see `slotgraph.calsync.engine`).

A sweep drains: it claims the next batch while the last syncs of the previous one still
run, until fewer than a batch are due. One claim per poll would cap a worker at
`batch / poll_seconds` syncs a second however fast each sync is (4/s with the defaults of
old, against the ~670/s a fleet of 200,000 calendars synced every 5 minutes needs:
BENCHMARKS.md, "Sync capacity").
"""

from __future__ import annotations

import anyio
import structlog

from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import run_claimed
from slotgraph.calsync.leases import claim_due
from slotgraph.models import CalendarConnection

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


async def sweep_due_syncs(ctx: SyncContext) -> list[Outcome]:
    """Sync every connection due when the sweep began, `config.concurrency` at a time,
    claiming a batch at a time; the outcomes in the order the runs ended.

    Bounded: only connections due by the sweep's start are claimed, and the sweep stops
    after the batch in which it meets a connection it already synced (one whose next run
    was due again at once, as with a zero backoff under a frozen clock)."""
    due_by = ctx.clock()
    slots = anyio.Semaphore(ctx.config.concurrency)
    outcomes: list[Outcome] = []
    seen: set[int] = set()

    async def one(connection: CalendarConnection) -> None:
        try:
            outcomes.append(await run_claimed(ctx, connection))
        finally:
            slots.release()

    async with anyio.create_task_group() as group:
        while True:
            claimed = await claim_due(ctx, ctx.config.batch, due_by=due_by)
            again = any(row.id in seen for row in claimed)
            for connection in claimed:
                seen.add(connection.id)
                await slots.acquire()  # the next claim waits for the last of these to start
                group.start_soon(one, connection)
            if again or len(claimed) < ctx.config.batch:
                break
    return outcomes
