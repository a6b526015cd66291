"""The background workers: the job queue with the outbox's deliveries and the calendar sync
registered.

They run inside each API process (`slotgraph serve`, unless `--no-worker`), started and
stopped by the app's lifespan, or alone (`slotgraph worker`), so API and worker processes
scale separately. Either way the work is the same: jobs are claimed in PostgreSQL, so any
number of processes may run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from typing import TYPE_CHECKING
from typing import Any

import structlog

from slotgraph.calsync.context import SyncConfig
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import SYNC_JOB
from slotgraph.calsync.engine import sync_connection
from slotgraph.calsync.scheduler import sweep_due_syncs
from slotgraph.calsync.watches import RENEW_JOB
from slotgraph.calsync.watches import WatchConfig
from slotgraph.calsync.watches import Watches
from slotgraph.jobs.deliveries import build_outbox
from slotgraph.jobs.deliveries.webhooks import Webhooks
from slotgraph.jobs.mail import Mailer
from slotgraph.jobs.outbox import DeliveryPolicy
from slotgraph.jobs.queue import JobQueue
from slotgraph.notices.changes import publish_connection_changed
from slotgraph.notices.changes import publish_host_changed
from slotgraph.server.runtime import Runtime
from slotgraph.server.runtime import build_runtime
from slotgraph.usecases.booking_decisions import decline_unanswered_requests
from slotgraph.usecases.domain_verification import recheck_due_domains

if TYPE_CHECKING:
    from slotgraph.server.settings import Settings

log = structlog.get_logger("slotgraph.worker")
STOP_TIMEOUT = 10.0


def build_queue(runtime: Runtime, database_url: str) -> JobQueue:
    """The job queue of this process with every job kind registered."""
    settings = runtime.settings
    queue = JobQueue(
        database_url,
        concurrency=settings.worker_concurrency,
        heartbeat_seconds=settings.job_heartbeat_seconds,
    )
    smtp = settings.smtp
    outbox = build_outbox(
        runtime.sessionmaker,
        runtime.services.connection_clients,
        mailer=Mailer(smtp) if smtp is not None else None,
        credentials=runtime.services.credentials,
        dashboard_bookings_url=settings.dashboard_bookings_url,
        policy=DeliveryPolicy(
            max_attempts=settings.outbox_max_attempts,
            initial_backoff=settings.outbox_initial_backoff_seconds,
            max_backoff=settings.outbox_max_backoff_seconds,
            lease=settings.outbox_lease_seconds,
        ),
        webhooks=webhooks(runtime),
    )
    outbox.register(queue, sweep_seconds=settings.outbox_sweep_seconds)
    register_sync(queue, runtime)
    register_domain_checks(queue, runtime)
    register_request_expiry(queue, runtime)
    return queue


def register_request_expiry(queue: JobQueue, runtime: Runtime) -> None:
    """C42: every `request_expiry_sweep_seconds` each worker declines the offline requests
    whose start has come unanswered (SKIP LOCKED shares them out)."""
    services = runtime.services

    async def sweep() -> None:
        await decline_unanswered_requests(services)

    queue.every(runtime.settings.request_expiry_sweep_seconds, sweep)


def webhooks(runtime: Runtime) -> Webhooks:
    """The WEBHOOK delivery of this process (C22, C46)."""
    services = runtime.services
    return Webhooks(
        runtime.sessionmaker,
        services.credentials,
        services.outbound,
        services.webhooks,
        clock=services.clock,
    )


def register_domain_checks(queue: JobQueue, runtime: Runtime) -> None:
    """C40: every `domain_sweep_seconds` each worker re-checks the domains that are due
    (`slotgraph.usecases.domain_verification.recheck_due_domains` shares them out)."""
    services = runtime.services

    async def sweep() -> None:
        await recheck_due_domains(services)

    queue.every(runtime.settings.domain_sweep_seconds, sweep)


def sync_config(settings: Settings) -> SyncConfig:
    return SyncConfig(
        interval=dt.timedelta(seconds=settings.sync_interval_seconds),
        ahead=dt.timedelta(days=settings.sync_window_days),
        lease=dt.timedelta(seconds=settings.sync_lease_seconds),
        max_attempts=settings.sync_max_attempts,
        concurrency=settings.sync_concurrency,
        poll_seconds=settings.sync_poll_seconds,
    )


def watch_config(settings: Settings) -> WatchConfig:
    return WatchConfig(
        public_base_url=settings.public_base_url,
        ttl=dt.timedelta(hours=settings.watch_ttl_hours),
        renew_margin=dt.timedelta(hours=settings.watch_renew_margin_hours),
        sweep_seconds=settings.watch_sweep_seconds,
    )


def register_push(queue: JobQueue, runtime: Runtime) -> Watches:
    """Push channels in the workers: renewals every `watch_sweep_seconds` and on Graph's
    `reauthorizationRequired` (a job enqueued by the notification route)."""
    watches = Watches(
        runtime.sessionmaker,
        runtime.services.connection_clients,
        watch_config(runtime.settings),
        clock=runtime.services.clock,
    )

    async def renew(payload: dict[str, Any]) -> None:
        await watches.renew(int(payload["id"]))

    async def sweep() -> None:
        await watches.renew_due()

    queue.register(RENEW_JOB, renew)
    queue.every(watches.config.sweep_seconds, sweep)
    return watches


def register_sync(queue: JobQueue, runtime: Runtime) -> SyncContext:
    """Calendar sync in the workers: every `sync_poll_seconds` a sweep claims the due
    connections (leases and SKIP LOCKED share them between processes), and an on-demand
    `syncCalendarConnection` or a push notification enqueues a job that syncs its
    connection at once. State and busy-time changes are announced through pub/sub after
    each commit; with push on, a connection's channels are opened after its sync."""
    services = runtime.services
    watches = register_push(queue, runtime) if runtime.settings.push_notifications else None

    async def state_changed(connection_id: int) -> None:
        await publish_connection_changed(services.pubsub, connection_id)

    async def busy_changed(user_id: int) -> None:
        await publish_host_changed(services.pubsub, services.sessionmaker, user_id)

    async def on_synced(connection_id: int) -> None:
        if watches is not None:
            await watches.ensure(connection_id)

    ctx = SyncContext(
        sessionmaker=runtime.sessionmaker,
        clients=services.connection_clients,
        config=sync_config(runtime.settings),
        on_state_change=state_changed,  # syncStatus watchers on every process (C1)
        on_busy_change=busy_changed,  # availabilityChanged on the host's pages
        on_synced=on_synced,
        clock=services.clock,  # the process's one "now"
    )

    async def on_demand(payload: dict[str, Any]) -> None:
        await sync_connection(ctx, int(payload["id"]))

    async def sweep() -> None:
        await sweep_due_syncs(ctx)

    queue.register(SYNC_JOB, on_demand)
    queue.every(ctx.config.poll_seconds, sweep)
    return ctx


class BackgroundWorker:
    """The queue's loop as a task of the running event loop (the app's lifespan)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.queue.run(self._stop))

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:  # noqa: ASYNC109 - a drain
        """Let in-flight jobs finish (up to `timeout`), then cancel; an unfinished job is
        re-run by another worker once its heartbeat is stale."""
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("worker did not drain in time; cancelled")
        self._task = None


async def run_jobs(settings: Settings, database_url: str, stop: asyncio.Event) -> None:
    """`slotgraph worker`: run the job queue until `stop` is set."""
    runtime = build_runtime(settings, database_url)
    try:
        log.info("worker started", concurrency=settings.worker_concurrency)
        await build_queue(runtime, database_url).run(stop)
    finally:
        await runtime.aclose()
        log.info("worker stopped")


def run_worker(settings: Settings, database_url: str) -> None:
    """Run the job queue in this process until SIGTERM or SIGINT (in-flight jobs finish)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_jobs(settings, database_url, stop)

    asyncio.run(main())
