"""Shared recomputations per page: one computation per change notice, however many
subscribers of this process watch the same thing.

`watch_availability` (`slotgraph.usecases.subscriptions`) recomputes a page's free slots on
every notice of the page, which costs database reads and live free/busy calls. Subscribers
watching the same key (page, window, duration) share one `_Feed`: it listens to the page's
notices and runs the caller's `compute` once per notice; each subscriber (`Listener`) is
handed the newest result it has not seen. The feed knows nothing of slots: what `compute`
answers is the caller's, so this module sits below the use cases, and the use cases'
dependency object (`slotgraph.usecases.services.Services`) can hold the feeds without
importing any use case.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar

from slotgraph.notices.changes import PAGE

if TYPE_CHECKING:
    from slotgraph.notices.pubsub import PubSub
    from slotgraph.notices.pubsub import Subscription

T = TypeVar("T")
# (page id, window start, window end, duration or None for the page's first)
FeedKey = tuple[int, dt.datetime, dt.datetime, int | None]


@dataclass(eq=False)
class Listener(Generic[T]):
    """One subscriber of a feed: the newest computation it has not seen yet (older ones
    are replaced, never queued, so a slow subscriber only skips to the newest)."""

    joined_at: int
    feed: _Feed[T] = field(repr=False)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    computed: T | None = None
    ended: bool = False

    def take(self) -> T | None:
        """The newest computation not taken yet (None: none arrived since the last take)."""
        computed, self.computed = self.computed, None
        return computed

    def restart(self) -> None:
        """The subscriber computes afresh now (late joiners, `LateJoins`): computations
        already under way may predate that one, so only those begun later are handed over."""
        self.joined_at = self.feed.started
        self.computed = None


class _Feed(Generic[T]):
    """One computation per notice, shared by this process's subscribers of a key."""

    def __init__(self, subscription: Subscription, compute: Callable[[], Awaitable[T]]) -> None:
        self.listeners: set[Listener[T]] = set()
        self.started = 0
        self._subscription = subscription
        self._compute = compute
        self.task = asyncio.create_task(self._run(), name=f"feed-page-{subscription.id}")

    async def _run(self) -> None:
        async for _ in self._subscription:
            self.started += 1
            number = self.started
            computed = await self._compute()
            for listener in self.listeners:
                # Computations that began before a listener joined may predate its own
                # starting snapshot; it waits for a newer one.
                if number > listener.joined_at:
                    listener.computed = computed
                    listener.wake.set()
        for listener in self.listeners:  # the pub/sub stopped (shutdown): end the streams
            listener.ended = True
            listener.wake.set()

    def close(self) -> None:
        self._subscription.close()
        self.task.cancel()


class AvailabilityFeeds:
    """This process's shared feeds, one per key, kept while watched. The first
    subscriber's `compute` serves the feed for everyone who joins it, so every caller of
    one key must compute the same kind of answer (one use case owns the feeds)."""

    def __init__(self) -> None:
        self._feeds: dict[FeedKey, _Feed[Any]] = {}

    @contextlib.contextmanager
    def listen(
        self, pubsub: PubSub, key: FeedKey, compute: Callable[[], Awaitable[T]]
    ) -> Iterator[Listener[T]]:
        feed = self._feeds.get(key)
        if feed is None:
            feed = _Feed(pubsub.subscribe(PAGE, str(key[0])), compute)
            self._feeds[key] = feed
        listener: Listener[T] = Listener(joined_at=feed.started, feed=feed)
        feed.listeners.add(listener)
        try:
            yield listener
        finally:
            feed.listeners.discard(listener)
            if not feed.listeners:
                feed.close()
                del self._feeds[key]

    @property
    def feed_count(self) -> int:
        return len(self._feeds)
