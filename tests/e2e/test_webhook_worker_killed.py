"""A `slotgraph worker` SIGKILLed while a webhook is in flight, and started again: the
event still reaches the receiver, with the same `webhook-id` (C22: at least once, no loss)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import WebhookDelivery
from slotgraph.models.webhooks import WebhookDeliveryState
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book
from tests.helpers.bookings import page_and_nine
from tests.helpers.jobs import eventually
from tests.helpers.webhooks import deliver_to
from tests.helpers.webhooks import hook_app
from tests.helpers.webhooks import receiving
from tests.helpers.workers import start
from tests.helpers.workers import worker_env


def worker(settings: Settings, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = worker_env(
        settings,
        database_url,
        SLOTGRAPH_OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",
        SLOTGRAPH_WEBHOOK_TIMEOUT_SECONDS="30",
        SLOTGRAPH_WEBHOOK_INITIAL_BACKOFF_SECONDS="0.2",
    )
    return start(["worker", "--no-migrate"], env, log)


async def _state(sessionmaker: async_sessionmaker[AsyncSession]) -> WebhookDeliveryState:
    async with sessionmaker() as session:
        return (await session.execute(select(WebhookDelivery.state))).scalar_one()


async def test_a_worker_killed_mid_delivery_still_delivers_with_the_same_webhook_id(
    factory: Factory,
    settings: Settings,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    log = tmp_path / "worker.log"
    async with hook_app(settings, database_url) as (_, gql):
        ada, slug, nine = await page_and_nine(gql, factory)
        with receiving() as receiver:
            await deliver_to(gql, ada.token, receiver)
            receiver.stall_first, receiver.stall_seconds = 1, 8.0  # answered only much later
            await book(gql, slug, nine)
            doomed = worker(settings, database_url, log)
            try:

                async def in_flight() -> bool:
                    assert doomed.poll() is None, log.read_text()[-2000:]
                    return len(receiver.seen) == 1

                await eventually(in_flight, seconds=60)
                doomed.send_signal(signal.SIGKILL)
                assert doomed.wait(timeout=10) == -signal.SIGKILL
            finally:
                if doomed.poll() is None:
                    doomed.kill()
                    doomed.wait()
            assert await _state(sessionmaker) is WebhookDeliveryState.PENDING
            assert receiver.events == {}

            again = worker(settings, database_url, log)
            try:

                async def delivered() -> bool:
                    assert again.poll() is None, log.read_text()[-2000:]
                    return await _state(sessionmaker) is WebhookDeliveryState.DELIVERED

                await eventually(delivered, seconds=60)
                again.send_signal(signal.SIGTERM)
                assert again.wait(timeout=20) == 0
            finally:
                if again.poll() is None:
                    again.kill()
                    again.wait()
            (webhook_id,) = receiver.events
            assert set(receiver.seen) == {webhook_id}
            assert len(receiver.seen) >= 2  # the killed attempt, then the one that landed
            assert receiver.events[webhook_id]["type"] == "booking.created"
