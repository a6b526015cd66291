"""PostgreSQL's NOTIFYs leave on a connection of their own, coalesced across callers
(`slotgraph.notices.notify_sender`): a burst of publishes all arrive, in fewer statements
than calls, and a sending connection that was cut is replaced within the same publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from slotgraph.models.db import connect_raw
from slotgraph.notices.postgres_pubsub import PostgresPubSub

GUARD = 10  # seconds; a guard against hanging, never a measurement


@pytest.fixture
async def pubsub(database_url: str) -> AsyncIterator[PostgresPubSub]:
    made = PostgresPubSub(database_url, backoff_initial=0.05)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def test_a_burst_of_publishes_all_arrive_in_fewer_statements_than_calls(
    pubsub: PostgresPubSub,
) -> None:
    await pubsub.publish("page", "warm")  # the connection is made
    pid = pubsub.sender.backend_pid
    assert pid is not None
    subscriptions = [pubsub.subscribe("page", str(n)) for n in range(100)]
    before = pubsub.sender.statements
    async with asyncio.timeout(GUARD):
        await asyncio.gather(*(pubsub.publish("page", str(n)) for n in range(100)))
        for n, subscription in enumerate(subscriptions):
            assert await anext(subscription) == str(n)
    assert pubsub.sender.statements - before <= 2  # the first call's, then all the others
    assert pubsub.sender.backend_pid == pid  # one connection throughout
    for subscription in subscriptions:
        subscription.close()


async def test_a_cut_sending_connection_is_replaced_within_the_publish(
    pubsub: PostgresPubSub, database_url: str
) -> None:
    await pubsub.publish("page", "warm")
    pid = pubsub.sender.backend_pid
    assert pid is not None
    admin = await connect_raw(database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    with pubsub.subscribe("page", "7") as seven:
        async with asyncio.timeout(GUARD):
            await pubsub.publish("page", "7")
            assert await anext(seven) == "7"
    assert pubsub.sender.backend_pid not in (None, pid)


async def test_publishing_after_stop_starts_afresh(database_url: str) -> None:
    pubsub = PostgresPubSub(database_url)
    await pubsub.start()
    await pubsub.publish("page", "warm")
    await pubsub.stop()
    await pubsub.start()
    try:
        with pubsub.subscribe("page", "8") as eight:
            async with asyncio.timeout(GUARD):
                await pubsub.publish("page", "8")
                assert await anext(eight) == "8"
    finally:
        await pubsub.stop()
