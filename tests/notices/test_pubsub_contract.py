"""The pub/sub seam's contract (`slotgraph.notices.pubsub`), one suite run against every
implementation: in memory, PostgreSQL LISTEN/NOTIFY and NATS, the brokers for real (this
run's database; this run's own `nats-server`). Two objects on one broker stand for two API
processes, each with its own connection; in memory, one process plays both."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from bench.nats_server import NatsServer
from slotgraph.models.db import connect_raw
from slotgraph.notices.nats_pubsub import NatsPubSub
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from slotgraph.notices.pubsub import BrokerFanout
from slotgraph.notices.pubsub import InMemoryPubSub
from slotgraph.notices.pubsub import Subscription

GUARD = 10  # seconds; a guard against hanging, never a measurement
BROKERS = ["postgres", "nats"]

Impl = InMemoryPubSub | PostgresPubSub | NatsPubSub


@dataclass
class Processes:
    """`a` and `b` as two processes; `new()` makes another one (not started: a worker);
    `cut()` takes `b`'s feed away and lets it come back (brokers only)."""

    a: Impl
    b: Impl
    new: Callable[[], Impl]
    cut: Callable[[], Awaitable[None]] | None = None


def nats_processes(url: str, server: NatsServer | None) -> Processes:
    prefix = f"test_{secrets.token_hex(4)}"  # apart from anyone else on the same server

    def new() -> NatsPubSub:
        return NatsPubSub([url], subject_prefix=prefix, reconnect_wait=1)

    async def restart() -> None:
        if server is None:
            pytest.skip("the machine's NATS server is never restarted: install nats-server")
        await asyncio.to_thread(server.restart)

    return Processes(new(), new(), new, restart)


def postgres_processes(database_url: str) -> Processes:
    def new() -> PostgresPubSub:
        return PostgresPubSub(database_url, backoff_initial=0.05, health_interval=0.5)

    a, b = new(), new()

    async def terminate_listener() -> None:
        admin = await connect_raw(database_url)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", b.backend_pid)
        finally:
            await admin.close()

    return Processes(a, b, new, terminate_listener)


def memory_processes() -> Processes:
    one = InMemoryPubSub()
    return Processes(one, one, lambda: one)


@pytest.fixture(params=["memory", *BROKERS])
def made(request: pytest.FixtureRequest) -> Processes:
    """The implementation's pair, not started (a plain fixture: it asks for the broker's
    fixtures by name, so the in-memory run needs neither)."""
    kind: str = request.param
    if kind == "postgres":
        made = postgres_processes(request.getfixturevalue("database_url"))
    elif kind == "nats":
        made = nats_processes(
            request.getfixturevalue("nats_url"), request.getfixturevalue("nats_server")
        )
    else:
        made = memory_processes()
    return made


@pytest.fixture
async def processes(made: Processes) -> AsyncIterator[Processes]:
    await made.a.start()
    await made.b.start()
    if isinstance(made.a, BrokerFanout) and isinstance(made.b, BrokerFanout):
        assert (made.a.listening, made.b.listening) == (True, True)
    yield made
    await made.a.stop()
    await made.b.stop()


async def next_wake(subscription: Subscription) -> str:
    return await asyncio.wait_for(anext(subscription), GUARD)


async def test_a_notice_published_by_one_process_wakes_subscribers_of_the_other(
    processes: Processes,
) -> None:
    a, b = processes.a, processes.b
    page_1, page_2, sentinel = (b.subscribe("page", id) for id in ("1", "2", "9"))
    connection_1 = b.subscribe("connection", "1")
    await a.publish("page", "3", "1")
    await a.publish("page", "9")  # in once the notices before it are handled
    assert (await next_wake(page_1), await next_wake(sentinel)) == ("1", "9")
    # Notices are routed by channel and id: nothing else woke.
    assert (page_2.pending, connection_1.pending) == (False, False)
    for subscription in (page_1, page_2, sentinel, connection_1):
        subscription.close()
    assert b.subscriber_count == 0


async def test_the_publishing_process_hears_its_own_notices(processes: Processes) -> None:
    a = processes.a
    with a.subscribe("connection", "7") as connection_7:
        await a.publish("connection", "7")
        assert await next_wake(connection_7) == "7"


async def test_one_notice_reaches_every_subscriber(processes: Processes) -> None:
    a, b = processes.a, processes.b
    subscribers = [b.subscribe("page", "5") for _ in range(300)]
    await a.publish("page", "5")
    woken = await asyncio.gather(*(next_wake(s) for s in subscribers))
    assert woken == ["5"] * 300
    for subscriber in subscribers:
        subscriber.close()
    assert b.subscriber_count == 0


async def test_one_publish_of_many_ids_wakes_each_of_their_subscribers_once(
    processes: Processes,
) -> None:
    a, b = processes.a, processes.b
    ids = [str(n) for n in range(500)]
    subscribers = [b.subscribe("page", id) for id in ids]
    await a.publish("page", *ids, *ids)  # duplicates merge
    assert await asyncio.gather(*(next_wake(s) for s in subscribers)) == ids
    with b.subscribe("page", "sentinel") as sentinel:
        await a.publish("page", "sentinel")
        assert await next_wake(sentinel) == "sentinel"
    assert [s.pending for s in subscribers] == [False] * 500
    for subscriber in subscribers:
        subscriber.close()


async def test_a_slow_subscriber_holds_no_one_up_and_keeps_one_merged_wake(
    processes: Processes,
) -> None:
    a, b = processes.a, processes.b
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
    # Notices from one publisher arrive in order: once the sentinel is in, all 100 were.
    assert await next_wake(sentinel) == "9"
    assert slow.pending
    assert await next_wake(slow) == "1"
    assert not slow.pending  # a hundred notices merged into one wake-up
    fast.close()
    await asyncio.wait_for(reader, GUARD)
    assert fast_wakes >= 1
    slow.close()
    sentinel.close()


async def test_closing_a_subscription_ends_its_iteration(processes: Processes) -> None:
    subscription = processes.b.subscribe("page", "1")
    waiting = asyncio.create_task(anext(subscription, "ended"))
    await asyncio.sleep(0)
    subscription.close()
    assert await asyncio.wait_for(waiting, GUARD) == "ended"


async def test_stop_ends_every_subscription(processes: Processes) -> None:
    pubsub = processes.new()
    await pubsub.start()
    subscription = pubsub.subscribe("page", "1")
    waiting = asyncio.create_task(anext(subscription, "ended"))
    await asyncio.sleep(0)
    await pubsub.stop()
    assert await asyncio.wait_for(waiting, GUARD) == "ended"
    assert [item async for item in subscription] == []
    if isinstance(pubsub, BrokerFanout):
        assert not pubsub.listening
    await pubsub.stop()  # twice (lifespan, then the runtime): no harm


async def test_notices_carry_ids_only(processes: Processes) -> None:
    a = processes.a
    with pytest.raises(ValueError, match="ids only"):
        await a.publish("page", "x" * 8_000)
    for channel in ("page:1", "page.1", "page*", "pa ge", ""):
        with pytest.raises(ValueError, match="channel name"):
            await a.publish(channel, "2")
    for id in ("1.2", ">", "1 2", ""):
        with pytest.raises(ValueError, match="an id is one word"):
            await a.publish("page", id)


# The brokers' part of the contract: connections that drop, processes that only publish.
@pytest.mark.parametrize("made", BROKERS, indirect=True)
async def test_a_process_that_only_publishes_needs_no_start(processes: Processes) -> None:
    """A `slotgraph worker` publishes and never subscribes."""
    worker = processes.new()
    try:
        with processes.b.subscribe("booking", "3") as booking_3:
            await worker.publish("booking", "3")
            assert await next_wake(booking_3) == "3"
    finally:
        await worker.stop()


@pytest.mark.parametrize("made", BROKERS, indirect=True)
async def test_after_the_feed_drops_subscribers_resync_and_notices_flow_again(
    processes: Processes,
) -> None:
    """PostgreSQL: the listener's backend is terminated. NATS: the server is killed and
    started again on its port (a restart survived)."""
    a, b = processes.a, processes.b
    assert isinstance(b, BrokerFanout)
    assert processes.cut is not None
    with b.subscribe("page", "1") as page_1, b.subscribe("connection", "2") as connection_2:
        await processes.cut()
        # Resync: changes may have been missed, so every subscriber re-reads once.
        assert (await next_wake(page_1), await next_wake(connection_2)) == ("1", "2")
        assert b.reconnects == 1
        assert b.listening
        await a.publish("page", "1")
        assert await next_wake(page_1) == "1"
        assert not connection_2.pending
