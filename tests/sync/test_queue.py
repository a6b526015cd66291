"""The job queue on real PostgreSQL: jobs commit or roll back with the caller's
transaction, run on a real worker loop, are retried with backoff and parked with the
error kept after bounded attempts."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from pgqueuer.db import AsyncpgDriver
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.jobs.queue import Job as NewJob
from slotgraph.jobs.queue import JobQueue
from slotgraph.jobs.queue import Retry
from slotgraph.jobs.queue import RetryPolicy
from slotgraph.jobs.queue import enqueue
from slotgraph.jobs.queue import enqueue_many
from slotgraph.jobs.queue import prune_log
from slotgraph.models.db import connect_raw
from tests.helpers.jobs import eventually
from tests.helpers.jobs import working


def fast_queue(database_url: str) -> JobQueue:
    return JobQueue(database_url, concurrency=4, heartbeat_seconds=5, idle_poll_seconds=0.5)


async def test_a_job_exists_only_if_its_transaction_committed(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    seen: list[dict[str, Any]] = []

    async def record(payload: dict[str, Any]) -> None:
        seen.append(payload)

    async with sessionmaker.begin() as session:
        assert await enqueue(session, "test.record", {"n": 1})

    async def enqueue_then_fail() -> None:
        async with sessionmaker.begin() as session:
            await enqueue(session, "test.record", {"n": 2})
            raise RuntimeError("the change that needed the job failed")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    async with sessionmaker.begin() as session:
        new = await enqueue_many(
            session,
            [
                NewJob("test.record", {"n": 3}, dedupe_key="three"),
                NewJob("test.record", {"n": 3}, dedupe_key="three"),
            ],
        )
    assert new == 1  # the duplicate by key was skipped

    queue = fast_queue(database_url)
    queue.register("test.record", record)
    async with working(queue):

        async def both_ran() -> bool:
            return len(seen) >= 2

        await eventually(both_ran)
        await asyncio.sleep(0.3)  # nothing else is coming
    assert sorted(p["n"] for p in seen) == [1, 3]


async def test_failing_job_is_retried_then_parked_with_its_error(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    runs: list[str] = []

    async def flaky(payload: dict[str, Any]) -> None:
        runs.append(payload["kind"])
        if payload["kind"] == "retry":
            raise Retry("the provider asked us to come back", delay=0.05)
        raise ValueError("the provider refused the request")

    async with sessionmaker.begin() as session:
        await enqueue(session, "test.flaky", {"kind": "retry"})
        await enqueue(session, "test.flaky", {"kind": "error"})

    queue = fast_queue(database_url)
    queue.register("test.flaky", flaky, policy=RetryPolicy(max_attempts=3, initial_delay=0.05))

    async def parked() -> list[tuple[str, int]]:
        async with sessionmaker() as session:
            rows = await session.execute(
                text("SELECT status::text, attempts FROM pgqueuer ORDER BY id")
            )
            return [(row[0], row[1]) for row in rows]

    async with working(queue):

        async def both_parked() -> bool:
            return [status for status, _ in await parked()] == ["failed", "failed"]

        await eventually(both_parked)
    assert await parked() == [("failed", 2), ("failed", 2)]  # three runs: two retries
    assert sorted(runs) == ["error"] * 3 + ["retry"] * 3
    async with sessionmaker() as session:
        kept = (
            await session.execute(
                text(
                    "SELECT traceback->>'exception_message' FROM pgqueuer_log "
                    "WHERE status = 'failed' ORDER BY id"
                )
            )
        ).scalars()
        assert sorted(kept) == [
            "the provider asked us to come back",
            "the provider refused the request",
        ]


async def test_old_log_rows_are_pruned_but_parked_jobs_keep_theirs(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker.begin() as session:
        await enqueue(session, "test.done", {})
        await enqueue(session, "test.parked", {})
        done, parked = (
            await session.execute(text("SELECT id FROM pgqueuer ORDER BY id"))
        ).scalars()
        ids = {"done": done, "parked": parked}
        await session.execute(text("UPDATE pgqueuer SET status = 'failed' WHERE id = :parked"), ids)
        await session.execute(
            text(
                "INSERT INTO pgqueuer_log (job_id, status, priority, entrypoint, created) "
                "VALUES (:done, 'successful', 0, 'test.done', now() - interval '8 days'), "
                "(:parked, 'failed', 0, 'test.parked', now() - interval '8 days')"
            ),
            ids,
        )
        await session.execute(text("DELETE FROM pgqueuer WHERE id = :done"), ids)
    connection = await connect_raw(database_url)
    try:
        await prune_log(AsyncpgDriver(connection), dt.timedelta(days=7))
    finally:
        await connection.close()
    async with sessionmaker() as session:
        left = (
            await session.execute(
                text("SELECT job_id, status::text FROM pgqueuer_log ORDER BY job_id, status")
            )
        ).all()
    # The fresh 'queued' rows stay; of the old ones only the parked job's is kept.
    assert [tuple(row) for row in left] == [
        (done, "queued"),
        (parked, "failed"),
        (parked, "queued"),
    ]
