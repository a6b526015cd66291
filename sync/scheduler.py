"""Running due syncs: claim due connections (`FOR UPDATE SKIP LOCKED` plus a lease, so any
number of workers share the work) and sync them with bounded concurrency; `sync_loop` does
that until stopped. A job queue can replace the loop: its job is `sync_connection(ctx, id)`,
which is idempotent (see `sync.engine`)."""

from __future__ import annotations

import anyio
import structlog

from sync.engine import Outcome, SyncContext, claim_due, run_claimed

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


async def sync_loop(ctx: SyncContext, stop: anyio.Event) -> None:
    """Run due syncs until `stop` is set: straight on while work is due, else every
    `config.poll_seconds`. A failing sweep (database down) is logged and retried."""
    while not stop.is_set():
        try:
            busy = bool(await run_due_syncs(ctx))
        except Exception:  # keep the worker alive; the next sweep tries again
            log.exception("sync sweep failed")
            busy = False
        if not busy:
            with anyio.move_on_after(ctx.config.poll_seconds):
                await stop.wait()
