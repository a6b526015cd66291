"""Background work in tests: the job queue's worker loop run in the test process, the outbox
built from the app's services, and waiting for what another process writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries import build_outbox
from slotgraph.jobs.deliveries.webhooks import Webhooks
from slotgraph.jobs.mail import Mailer
from slotgraph.jobs.outbox import DeliveryPolicy
from slotgraph.jobs.outbox import Outbox
from slotgraph.jobs.queue import JobQueue
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxState


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 30) -> None:
    """Wait until `check()` holds (polling); fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - the state is in another process's rows
            await asyncio.sleep(0.05)


@asynccontextmanager
async def working(queue: JobQueue) -> AsyncIterator[None]:
    """The queue's worker loop running in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(queue.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def make_outbox(app: Starlette, *, max_attempts: int = 5, mailer: Mailer | None = None) -> Outbox:
    """The app's outbox with a short, test-sized delivery policy."""
    services = app.state.runtime.services
    return build_outbox(
        services.sessionmaker,
        services.connection_clients,
        mailer=mailer,
        policy=DeliveryPolicy(max_attempts=max_attempts, initial_backoff=1.0, lease=60.0),
        webhooks=Webhooks(
            services.sessionmaker,
            services.credentials,
            services.outbound,
            services.webhooks,
            clock=services.clock,
        ),
        credentials=services.credentials,
    )


async def make_due(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Time passes: every pending row's backoff is over."""
    async with sessionmaker.begin() as session:
        await session.execute(update(OutboxMessage).values(available_at=text("now()")))


async def pending_deliveries(app: Starlette, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Run every pending delivery, and those they post, as a worker would; how many."""
    outbox = make_outbox(app)
    delivered = 0
    while True:
        async with sessionmaker() as session:
            ids = list(
                (
                    await session.execute(
                        select(OutboxMessage.id)
                        .where(OutboxMessage.state == OutboxState.PENDING)
                        .order_by(OutboxMessage.id)
                    )
                ).scalars()
            )
        if not ids:
            return delivered
        for outbox_id in ids:
            assert (await outbox.deliver(outbox_id)).state is OutboxState.DONE
            delivered += 1
