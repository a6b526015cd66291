"""Change notices between processes: the seam that GraphQL subscriptions listen on.

A notice names what changed, never how: `publish("page", "42")` after the commit that
changed page 42, and every process's subscribers of `("page", "42")` wake up and re-read
what they show from the database. Because notices carry ids only, one can be merged with
another, arrive twice, or be lost in a reconnect without a subscriber ever showing wrong
data: it only re-reads once more, or once fewer.

The seam (`PubSub`) is two calls, so a fleet can move between brokers by configuration
(`SLOTGRAPH_PUBSUB`, docs/operations.md "Change notices between processes"):
- `publish(channel, *ids)`, called after commit;
- `subscribe(channel, id) -> Subscription`, an async iterator yielding `id` each time it
  may have changed (also after a reconnect, when changes may have been missed: "resync").

Implementations, each routing to its subscribers in the process (`LocalFanout`):
- `InMemoryPubSub` (here): one process (tests, single-process tools);
- `PostgresPubSub` (`slotgraph.notices.postgres_pubsub`): LISTEN/NOTIFY, the zero-setup
  default;
- `NatsPubSub` (`slotgraph.notices.nats_pubsub`): core NATS, for fleets whose commit rate
  a NOTIFY per commit would hold back.

Both brokers feed a process through one connection; `BrokerFanout` holds what they share:
whether that feed is up, and the resync of every local subscriber when it comes back.

Local fan-out (`LocalFanout`): each subscriber owns one "pending" flag rather than a
queue. Delivering sets the flag and never waits, so a slow subscriber cannot hold up the
others or grow memory; notices that arrive while it is still busy coalesce into one
wake-up (the bounded queue of size one, newest wins). Since a wake-up means "re-read",
nothing is lost by merging: the subscriber reads the newest state.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Protocol
from typing import Self

import structlog

if TYPE_CHECKING:
    from types import TracebackType

log = structlog.get_logger("slotgraph.pubsub")

# A notice fits every broker: PostgreSQL refuses NOTIFY payloads (`<channel>:<id>`) of
# 8,000 bytes or more, and NATS subjects (`<prefix>.<channel>.<id>`) are dot-separated
# tokens without spaces or wildcards. Ids are far below that; the rule is the seam's, so a
# notice valid on one broker is valid on all.
MAX_NOTICE_BYTES = 7_999
_TOKEN = re.compile(r"[^\s:.*>]+")
# How long `start()` waits for the first connection before serving on without it.
START_WAIT_SECONDS = 5.0


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

    def take_pending(self) -> bool:
        """Read a wake-up without waiting, for callers that poll instead of iterating (the
        shared slot answers): True when one had arrived, and always once closed (then
        nothing more will be heard, so everything may have changed)."""
        if not self._pending.is_set():
            return False
        if not self._closed:
            self._pending.clear()
        return True

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


# The ids of a host's scheduling pages, read when a broker needs them (`PubSub.publish_host`).
PageLookup = Callable[[], Awaitable[list[int]]]


class PubSub(Protocol):
    """Publish after commit, subscribe per object; see the module docstring."""

    async def publish(self, channel: str, *ids: str) -> None: ...

    async def publish_host(self, channel: str, host_user_id: int, pages: PageLookup) -> None:
        """A notice on `channel` for every scheduling page of the host. `pages` looks them
        up; a broker that can look them up where it sends (PostgreSQL) need not call it."""
        ...

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


def notice_ids(channel: str, ids: tuple[str, ...]) -> list[str]:
    """The distinct ids of one `publish` call, checked against the seam's rules (above)."""
    if not _TOKEN.fullmatch(channel):
        raise ValueError(f"a channel name is one word, no ':', '.', '*', '>' ({channel!r})")
    distinct = list(dict.fromkeys(ids))
    for id in distinct:
        if len(channel.encode()) + 1 + len(id.encode()) > MAX_NOTICE_BYTES:
            raise ValueError(f"notice over {MAX_NOTICE_BYTES} bytes: send ids only")
        if not _TOKEN.fullmatch(id):
            raise ValueError(f"an id is one word, no ':', '.', '*', '>' ({id[:40]!r})")
    return distinct


class InMemoryPubSub(LocalFanout):
    """Fan-out within one process: `publish` wakes local subscribers directly."""

    async def publish(self, channel: str, *ids: str) -> None:
        for id in notice_ids(channel, ids):
            self.deliver(channel, id)

    async def publish_host(self, channel: str, host_user_id: int, pages: PageLookup) -> None:
        await self.publish(channel, *(str(page_id) for page_id in await pages()))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.close_all()


class BrokerFanout(LocalFanout):
    """Local fan-out fed by one broker connection per process (PostgreSQL or NATS).

    The implementation calls `_feed_up()` whenever its subscription is in place at the
    broker (first connection and every reconnect) and `_feed_down()` when the connection is
    lost. After a reconnect every local subscriber is woken once (resync): notices sent
    while the feed was down are gone, and a wake-up makes the subscriber re-read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._listening = asyncio.Event()
        self._listened_before = False
        self.reconnects = 0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def wait_listening(self, seconds: float) -> bool:
        """Whether the feed is (or becomes, within `seconds`) connected."""
        try:
            await asyncio.wait_for(self._listening.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _wait_first_feed(self) -> None:
        """`start()`'s wait: a few seconds, then the API serves queries meanwhile and the
        connection keeps being tried in the background."""
        if not await self.wait_listening(START_WAIT_SECONDS):
            log.warning("pubsub not connected yet; retrying in the background")

    def _feed_up(self) -> None:
        self._listening.set()
        if self._listened_before:
            self.reconnects += 1
            log.info("pubsub reconnected; resyncing subscribers", subscribers=self.subscriber_count)
            self.resync()
        self._listened_before = True

    def _feed_down(self) -> None:
        self._listening.clear()
