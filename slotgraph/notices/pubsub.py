"""Change notices between processes: the seam that GraphQL subscriptions listen on.

A notice names what changed, never how: `publish("page", "42")` after the commit that
changed page 42, and every process's subscribers of `("page", "42")` wake up and re-read
what they show from the database. Because notices carry ids only, one can be merged with
another, arrive twice, or be lost in a reconnect without a subscriber ever showing wrong
data: it only re-reads once more, or once fewer.

The seam (`PubSub`) is two calls, so a fleet can move to NATS or Redis by configuration:
- `publish(channel, *ids)`, called after commit;
- `subscribe(channel, id) -> Subscription`, an async iterator yielding `id` each time it
  may have changed (also after a reconnect, when changes may have been missed: "resync").

Implementations:
- `InMemoryPubSub`: one process (tests, single-process tools).
- `PostgresPubSub`: LISTEN/NOTIFY on ONE PostgreSQL channel (`slotgraph`) with payloads
  `<channel>:<id>`, e.g. `page:42`, `connection:7`. One channel because PostgreSQL wakes
  every listening connection for every NOTIFY whatever its channel, so more channels
  would save the server nothing; the routing to subscribers happens in the process, by a
  dictionary lookup. Each process holds ONE dedicated listener connection (straight to
  PostgreSQL: LISTEN does not work through PgBouncer in transaction mode), reconnected
  with capped exponential backoff when it drops; on reconnect every local subscriber gets
  a resync. NOTIFY goes out in its own short transaction after the change committed (a
  NOTIFY inside the writing transaction would serialise all commits), all ids of one call
  in one statement; PostgreSQL drops duplicates within it.

Local fan-out (`LocalFanout`, shared by both): each subscriber owns one "pending" flag
rather than a queue. Delivering sets the flag and never waits, so a slow subscriber
cannot hold up the others or grow memory; notices that arrive while it is still busy
coalesce into one wake-up (the bounded queue of size one, newest wins). Since a wake-up
means "re-read", nothing is lost by merging: the subscriber reads the newest state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Protocol, Self

import structlog
from sqlalchemy import text

from slotgraph.models.db import connect_raw

if TYPE_CHECKING:
    from types import TracebackType

    from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger("slotgraph.pubsub")

PG_CHANNEL = "slotgraph"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; ids are far below that.
MAX_PAYLOAD_BYTES = 7_999


class Subscription:
    """One subscriber of `(channel, id)`: registered as soon as it is made, so a caller can
    subscribe first and read its starting state second without missing a change between.

    Iterate it (`async for _ in subscription`) and re-read on each wake-up; close it (or use
    `with`) when done. Iteration ends once it is closed, also by `PubSub.stop()`.
    """

    def __init__(self, fanout: LocalFanout, channel: str, id: str) -> None:
        self.channel = channel
        self.id = id
        self._fanout = fanout
        self._pending = asyncio.Event()
        self._closed = False
        fanout._register(self)

    def wake(self) -> None:
        """Mark a change; never blocks. Several wakes before the next read merge into one."""
        self._pending.set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._fanout._unregister(self)
            self._pending.set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> bool:
        """A wake-up is waiting to be read."""
        return self._pending.is_set() and not self._closed

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        await self._pending.wait()
        if self._closed:
            raise StopAsyncIteration
        self._pending.clear()
        return self.id

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PubSub(Protocol):
    """Publish after commit, subscribe per object; see the module docstring."""

    async def publish(self, channel: str, *ids: str) -> None: ...

    def subscribe(self, channel: str, id: str) -> Subscription: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalFanout:
    """The subscribers of this process, by `(channel, id)`."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[tuple[str, str], set[Subscription]] = defaultdict(set)

    def subscribe(self, channel: str, id: str) -> Subscription:
        return Subscription(self, channel, id)

    def deliver(self, channel: str, id: str) -> int:
        """Wake the subscribers of `(channel, id)`; returns how many."""
        subscribers = self._subscribers.get((channel, id), ())
        for subscriber in subscribers:
            subscriber.wake()
        return len(subscribers)

    def resync(self) -> None:
        """Wake every subscriber: notices may have been missed (listener reconnected)."""
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.wake()

    def close_all(self) -> None:
        for subscribers in list(self._subscribers.values()):
            for subscriber in list(subscribers):
                subscriber.close()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _register(self, subscription: Subscription) -> None:
        self._subscribers[(subscription.channel, subscription.id)].add(subscription)

    def _unregister(self, subscription: Subscription) -> None:
        key = (subscription.channel, subscription.id)
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[key]


def payloads(channel: str, ids: tuple[str, ...]) -> list[str]:
    """`<channel>:<id>` per distinct id, checked against PostgreSQL's payload limit."""
    if ":" in channel:
        raise ValueError(f"a channel name has no ':' ({channel!r})")
    result = [f"{channel}:{id}" for id in dict.fromkeys(ids)]
    for payload in result:
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"notice payload over {MAX_PAYLOAD_BYTES} bytes: send ids only")
    return result


class InMemoryPubSub(LocalFanout):
    """Fan-out within one process: `publish` wakes local subscribers directly."""

    async def publish(self, channel: str, *ids: str) -> None:
        for payload in payloads(channel, ids):
            self.deliver(*payload.split(":", 1))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.close_all()


class PostgresPubSub(LocalFanout):
    """LISTEN/NOTIFY fan-out across processes; one listener connection per process.

    `database_url` (libpq form) is where the listener connects, directly to PostgreSQL;
    `engine` sends the NOTIFYs from its pool. Example::

        pubsub = PostgresPubSub(url, engine)
        await pubsub.start()
        ...
        await pubsub.publish("page", "42")  # after the commit that changed page 42
        await pubsub.stop()
    """

    def __init__(
        self,
        database_url: str,
        engine: AsyncEngine,
        *,
        pg_channel: str = PG_CHANNEL,
        health_interval: float = 10.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
    ) -> None:
        super().__init__()
        self._url = database_url
        self._engine = engine
        self._pg_channel = pg_channel
        self._health_interval = health_interval
        self._backoff = (backoff_initial, backoff_max)
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None
        self.reconnects = 0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def backend_pid(self) -> int | None:
        """The listener's PostgreSQL backend, while connected (for operators and tests)."""
        connection = self._connection
        return None if connection is None else int(connection.get_server_pid())

    async def wait_listening(self, seconds: float) -> bool:
        """Whether the listener is (or becomes, within `seconds`) connected."""
        try:
            await asyncio.wait_for(self._listening.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Start listening; waits a few seconds for the first connection, then keeps
        trying in the background (the API serves queries meanwhile)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="pubsub-listener")
        if not await self.wait_listening(5.0):
            log.warning("pubsub listener not connected yet; retrying in the background")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.close_all()

    async def publish(self, channel: str, *ids: str) -> None:
        notices = payloads(channel, ids)
        if not notices:
            return
        async with self._engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
                {"channel": self._pg_channel, "payloads": notices},
            )
            await connection.commit()

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        channel, _, id = payload.partition(":")
        self.deliver(channel, id)

    async def _supervise(self) -> None:
        """Connect, listen, watch; on any failure close, wait (capped exponential backoff)
        and reconnect. A hand-written loop rather than a retry library: it never gives up
        and has one step, so a library would add a dependency and no behaviour."""
        delay = self._backoff[0]
        connected_before = False
        while True:
            try:
                connection = await asyncio.wait_for(connect_raw(self._url), 10)
            except Exception as exc:  # any failure to connect: wait and try again
                log.warning("pubsub listener cannot connect", error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            try:
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.execute("SET application_name = 'slotgraph-listener'")
                await connection.add_listener(self._pg_channel, self._on_notify)
                self._connection = connection
                self._listening.set()
                delay = self._backoff[0]
                if connected_before:
                    self.reconnects += 1
                    log.info("pubsub listener reconnected; resyncing subscribers")
                    self.resync()
                connected_before = True
                await self._watch(connection, lost)
            except Exception as exc:  # the connection broke: reconnect
                log.warning("pubsub listener lost", error=type(exc).__name__)
            finally:
                self._listening.clear()
                self._connection = None
                connection.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _watch(self, connection: Any, lost: asyncio.Event) -> None:
        """Return when the connection is gone: closed by the server (termination
        listener) or silent (a periodic `SELECT 1` that does not answer)."""
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self._health_interval)
            except TimeoutError:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)
            else:
                return
