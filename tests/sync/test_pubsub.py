"""The pub/sub seam over real PostgreSQL: two `PostgresPubSub` objects on one database
stand for two API processes (each with its own listener connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slotgraph.models.db import connect_raw
from slotgraph.notices.pubsub import InMemoryPubSub, PostgresPubSub, Subscription

GUARD = 10  # seconds; a guard against hanging, never a measurement


@pytest.fixture
async def two_processes(
    database_url: str, engine: AsyncEngine
) -> AsyncIterator[tuple[PostgresPubSub, PostgresPubSub]]:
    a = PostgresPubSub(database_url, engine, backoff_initial=0.05, health_interval=0.5)
    b = PostgresPubSub(database_url, engine, backoff_initial=0.05, health_interval=0.5)
    await a.start()
    await b.start()
    assert (a.listening, b.listening) == (True, True)
    yield a, b
    await a.stop()
    await b.stop()


async def next_wake(subscription: Subscription) -> str:
    return await asyncio.wait_for(anext(subscription), GUARD)


async def test_a_notice_published_by_one_process_wakes_subscribers_of_the_other(
    two_processes: tuple[PostgresPubSub, PostgresPubSub],
) -> None:
    a, b = two_processes
    with b.subscribe("page", "1") as page_1, b.subscribe("page", "2") as page_2:
        await a.publish("page", "3", "1")
        assert await next_wake(page_1) == "1"
        assert not page_2.pending  # notices are routed by channel and id


async def test_the_publishing_process_hears_its_own_notices(
    two_processes: tuple[PostgresPubSub, PostgresPubSub],
) -> None:
    a, _ = two_processes
    with a.subscribe("connection", "7") as connection_7:
        await a.publish("connection", "7")
        assert await next_wake(connection_7) == "7"


async def test_one_notice_reaches_every_subscriber(
    two_processes: tuple[PostgresPubSub, PostgresPubSub],
) -> None:
    a, b = two_processes
    subscribers = [b.subscribe("page", "5") for _ in range(300)]
    await a.publish("page", "5")
    woken = await asyncio.gather(*(next_wake(s) for s in subscribers))
    assert woken == ["5"] * 300
    for subscriber in subscribers:
        subscriber.close()
    assert b.subscriber_count == 0


async def test_a_slow_subscriber_holds_no_one_up_and_keeps_one_merged_wake(
    two_processes: tuple[PostgresPubSub, PostgresPubSub],
) -> None:
    a, b = two_processes
    slow = b.subscribe("page", "1")  # never reads while the notices arrive
    fast = b.subscribe("page", "1")
    sentinel = b.subscribe("page", "9")
    fast_wakes = 0

    async def read_fast() -> None:
        nonlocal fast_wakes
        async for _ in fast:
            fast_wakes += 1

    reader = asyncio.create_task(read_fast())
    for _ in range(100):
        await a.publish("page", "1")
    await a.publish("page", "9")
    # Notices arrive in commit order: once the sentinel is in, all 100 were delivered.
    assert await next_wake(sentinel) == "9"
    assert slow.pending
    assert await next_wake(slow) == "1"
    assert not slow.pending  # a hundred notices merged into one wake-up
    fast.close()
    await asyncio.wait_for(reader, GUARD)
    assert fast_wakes >= 1
    slow.close()
    sentinel.close()


async def test_after_the_listener_drops_subscribers_resync_and_notices_flow_again(
    two_processes: tuple[PostgresPubSub, PostgresPubSub], database_url: str
) -> None:
    a, b = two_processes
    with b.subscribe("page", "1") as page_1:
        admin = await connect_raw(database_url)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", b.backend_pid)
        finally:
            await admin.close()
        assert await next_wake(page_1) == "1"  # resync: changes may have been missed
        assert b.reconnects == 1
        await a.publish("page", "1")
        assert await next_wake(page_1) == "1"


async def test_closing_a_subscription_ends_its_iteration(
    two_processes: tuple[PostgresPubSub, PostgresPubSub],
) -> None:
    _, b = two_processes
    subscription = b.subscribe("page", "1")
    waiting = asyncio.create_task(anext(subscription, "ended"))
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(waiting, GUARD) == "ended"


async def test_stop_ends_every_subscription(database_url: str, engine: AsyncEngine) -> None:
    pubsub = PostgresPubSub(database_url, engine)
    await pubsub.start()
    subscription = pubsub.subscribe("page", "1")
    await pubsub.stop()
    assert [item async for item in subscription] == []
    assert not pubsub.listening


async def test_payloads_carry_ids_only() -> None:
    pubsub = InMemoryPubSub()
    with pytest.raises(ValueError, match="ids only"):
        await pubsub.publish("page", "x" * 8_000)
    with pytest.raises(ValueError, match="no ':'"):
        await pubsub.publish("page:1", "2")


async def test_in_memory_pubsub_delivers_within_the_process() -> None:
    pubsub = InMemoryPubSub()
    with pubsub.subscribe("page", "1") as page_1:
        await pubsub.publish("page", "1", "1")
        assert await next_wake(page_1) == "1"
        assert not page_1.pending
