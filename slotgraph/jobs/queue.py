"""The job queue: pgqueuer on PostgreSQL, behind a small seam.

Why pgqueuer: it is maintained, speaks asyncpg, locks with `FOR UPDATE SKIP LOCKED`,
re-picks a job whose worker stopped sending heartbeats (a killed worker's job is finished
by another), re-queues with a delay on `RetryRequested`, and parks terminally failed jobs
(`on_failure="hold"`) with their traceback in `pgqueuer_log`. Its tables are created by
migration 0004, never at run time.

The seam:
- `enqueue(session, name, payload, ...)` / `enqueue_many(session, jobs)` insert jobs with
  pgqueuer's own statement *on the caller's connection, inside the caller's transaction*:
  a job exists if and only if the change that needed it committed. Many jobs go in one
  statement (docs/environment.md: pgqueuer notifies once per statement).
- `JobQueue.register(name, handler, policy=...)` binds a handler `async (payload) -> None`;
  `JobQueue.every(seconds, task)` adds periodic maintenance (sweeps) run by every worker.
- A handler raises `Retry(reason, delay)` to run again later; any other exception is
  retried with exponential backoff. After `policy.max_attempts` runs the job is parked as
  `failed` with the error kept (`pgqueuer_log.traceback`).
- `JobQueue.run(stop)` works until `stop` is set: one dedicated asyncpg connection per
  process (LISTEN does not work through PgBouncer), at most `concurrency` jobs at a time,
  dequeued in batches; a broken connection is re-opened after a pause. pgqueuer keeps a
  log row per job transition and never drops them: `prune_log` does, hourly, keeping the
  rows of parked jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import structlog
from pgqueuer.db import AsyncpgDriver
from pgqueuer.errors import RetryRequested
from pgqueuer.executors import AbstractEntrypointExecutor
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from sqlalchemy import text

from slotgraph.models.db import connect_raw

if TYPE_CHECKING:
    from pgqueuer.models import Context
    from pgqueuer.models import Job as QueuedJob
    from pgqueuer.ports.driver import Driver
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("slotgraph.queue")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
Periodic = Callable[[], Awaitable[object]]
RECONNECT_PAUSE = 5.0
PRUNE_EVERY = 3600.0
PRUNE_SQL = """
DELETE FROM pgqueuer_log
WHERE created < now() - $1::interval
  AND NOT EXISTS (
    SELECT 1 FROM pgqueuer job WHERE job.id = pgqueuer_log.job_id AND job.status = 'failed'
  )
"""


class Retry(Exception):
    """Raise from a handler to run the job again after `delay` seconds (one attempt)."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = max(0.0, delay)


def doubling(attempt: int, initial: float, cap: float) -> float:
    """The backoff of every background retry (a job's runs, an outbox row's deliveries):
    `initial` after the first attempt (1-based), doubling after each further one, at most
    `cap`. Provider calls retry in-process with tenacity instead (`providers.retry`)."""
    return float(min(initial * 2 ** max(0, attempt - 1), cap))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a job runs before it is parked, and how long between runs when the
    handler does not say (`Retry.delay` wins). `max_attempts=None`: the handler bounds
    its own attempts (the outbox does, in its rows)."""

    max_attempts: int | None = 10
    initial_delay: float = 2.0
    max_delay: float = 900.0

    def backoff(self, attempt: int) -> float:
        """Delay after the `attempt`-th run (1-based): doubling, capped."""
        return doubling(attempt, self.initial_delay, self.max_delay)


@dataclass(frozen=True, slots=True)
class Job:
    """A job to enqueue. `dedupe_key`: at most one queued-or-running job per key; a
    duplicate is skipped (the job already waiting will do the work)."""

    name: str
    payload: dict[str, Any]
    delay: float = 0.0
    dedupe_key: str | None = None


async def enqueue(
    session: AsyncSession,
    name: str,
    payload: dict[str, Any],
    *,
    delay: float = 0.0,
    dedupe_key: str | None = None,
) -> bool:
    """Enqueue one job in the session's transaction; False when a duplicate was skipped."""
    return await enqueue_many(session, [Job(name, payload, delay, dedupe_key)]) == 1


async def enqueue_many(session: AsyncSession, jobs: Sequence[Job]) -> int:
    """Enqueue jobs in one statement in the session's transaction; returns how many were
    new (duplicates by `dedupe_key` are skipped)."""
    if not jobs:
        return 0
    raw = await _transaction_connection(session)
    ids = await Queries(AsyncpgDriver(raw)).enqueue(
        [job.name for job in jobs],
        [json.dumps(job.payload, separators=(",", ":")).encode() for job in jobs],
        [0] * len(jobs),
        [dt.timedelta(seconds=job.delay) for job in jobs],
        [job.dedupe_key for job in jobs],
        on_conflict="skip",
    )
    return sum(1 for job_id in ids if job_id is not None)


async def _transaction_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, with its transaction begun (SQLAlchemy
    begins lazily, on the first statement), so the job commits or rolls back with it."""
    connection = await session.connection()
    raw: Any = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        await session.execute(text("SELECT 1"))
    assert raw.is_in_transaction(), "enqueue needs a session inside a transaction"
    return raw


@dataclasses.dataclass
class _Executor(AbstractEntrypointExecutor):
    """Runs a handler with a JSON payload and turns failures into delayed retries until
    the policy's attempts are spent; then the error propagates and pgqueuer parks the job."""

    handler: Handler = dataclasses.field(kw_only=True)
    policy: RetryPolicy = dataclasses.field(kw_only=True)
    name: str = dataclasses.field(kw_only=True)

    async def execute(self, job: QueuedJob, context: Context) -> None:
        payload = _payload(job)
        attempt = job.attempts + 1
        spent = self.policy.max_attempts is not None and attempt >= self.policy.max_attempts
        try:
            await self.handler(payload)
        except Retry as retry:
            if spent:
                log.warning("job parked", job=self.name, job_id=job.id, reason=retry.reason)
                raise
            raise RetryRequested(dt.timedelta(seconds=retry.delay), retry.reason) from None
        except Exception as error:
            if spent:
                log.exception("job parked", job=self.name, job_id=job.id)
                raise
            delay = self.policy.backoff(attempt)
            log.warning("job failed; retrying", job=self.name, job_id=job.id, delay=delay)
            raise RetryRequested(dt.timedelta(seconds=delay), type(error).__name__) from error


def _payload(job: QueuedJob) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(job.payload) if job.payload else {}
    return loaded


def _plain(handler: Handler) -> Callable[[QueuedJob], Awaitable[None]]:
    """The handler as pgqueuer's own executors would call it (without our retries)."""

    async def run(job: QueuedJob) -> None:
        await handler(_payload(job))

    return run


@dataclass(frozen=True, slots=True)
class _Registration:
    """What `register` was given for one job name; the worker builds the name's executor
    from it on each (re)connection."""

    handler: Handler
    policy: RetryPolicy
    concurrency_limit: int


class JobQueue:
    """Handlers by job name, periodic tasks, and the worker loop of one process."""

    def __init__(
        self,
        database_url: str,
        *,
        concurrency: int = 20,
        heartbeat_seconds: float = 30.0,
        idle_poll_seconds: float = 30.0,
        log_retention_days: float = 7.0,
    ) -> None:
        """`heartbeat_seconds`: a running job whose worker has been silent this long is
        picked again by another worker (the visibility timeout of a killed worker)."""
        self.database_url = database_url
        self.concurrency = max(2, concurrency)
        self.heartbeat = dt.timedelta(seconds=heartbeat_seconds)
        self.idle_poll = dt.timedelta(seconds=idle_poll_seconds)
        self.log_retention = dt.timedelta(days=log_retention_days)
        self._handlers: dict[str, _Registration] = {}
        self._periodic: list[tuple[float, Periodic]] = []

    def register(
        self,
        name: str,
        handler: Handler,
        *,
        policy: RetryPolicy = RetryPolicy(),
        concurrency_limit: int = 0,
    ) -> None:
        """Run `handler(payload)` for jobs named `name`. `concurrency_limit` caps how many
        run at once across all workers (0: no cap beyond each worker's concurrency)."""
        if name in self._handlers:
            raise ValueError(f"a handler for {name!r} is already registered")
        self._handlers[name] = _Registration(handler, policy, concurrency_limit)

    def every(self, seconds: float, task: Periodic) -> None:
        """Run `task()` every `seconds` in each worker process (failures are logged)."""
        self._periodic.append((seconds, task))

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; in-flight jobs finish before this returns."""
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except Exception:  # a lost connection or server restart: reconnect and go on
                log.exception("job queue stopped unexpectedly; reconnecting")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RECONNECT_PAUSE)

    async def _run_once(self, stop: asyncio.Event) -> None:
        connection = await connect_raw(self.database_url)
        try:
            manager = QueueManager(Queries(AsyncpgDriver(connection)))
            for name, registration in self._handlers.items():
                parameters = EntrypointExecutorParameters(
                    concurrency_limit=registration.concurrency_limit,
                    func=_plain(registration.handler),
                    on_failure="hold",
                )
                manager.register_executor(
                    name,
                    _Executor(
                        parameters,
                        handler=registration.handler,
                        policy=registration.policy,
                        name=name,
                    ),
                )
            batch = max(1, min(10, self.concurrency // 2))
            tasks = [asyncio.create_task(self._every(s, t, stop)) for s, t in self._periodic]
            tasks.append(asyncio.create_task(_relay(stop, manager.shutdown)))
            driver = manager.queries.driver

            async def prune() -> None:
                await prune_log(driver, self.log_retention)

            tasks.append(asyncio.create_task(self._every(PRUNE_EVERY, prune, stop)))
            try:
                await manager.run(
                    dequeue_timeout=self.idle_poll,
                    batch_size=batch,
                    max_concurrent_tasks=self.concurrency,
                    heartbeat_timeout=self.heartbeat,
                )
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await connection.close()

    @staticmethod
    async def _every(seconds: float, task: Periodic, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await task()
            except Exception:  # a periodic sweep must never stop the worker
                log.exception("periodic task failed", task=getattr(task, "__name__", "?"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)


async def prune_log(driver: Driver, older_than: dt.timedelta) -> None:
    """Drop pgqueuer's log rows older than `older_than`, except those of parked jobs."""
    await driver.execute(PRUNE_SQL, older_than)


async def _relay(stop: asyncio.Event, shutdown: asyncio.Event) -> None:
    await stop.wait()
    shutdown.set()
