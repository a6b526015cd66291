"""Strict counters shared by every process (C25, C33): one row per key in PostgreSQL,
counted with one atomic `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.

Hand-rolled on purpose: the `limits` library (used for the per-process read limits,
`slotgraph.limits.local`) has no PostgreSQL storage, and its shared storages (Redis,
Memcached, MongoDB) would add a service Slotgraph does not otherwise need; a per-process
counter does not hold across `serve --workers N`.

Each key has a fixed window that starts at its first hit and lasts `window_seconds`
(like Redis' INCR with EXPIRE): the first hit after the window ended starts a new one at 1.
PostgreSQL's row lock serialises concurrent upserts of one key, so a burst over several
processes is counted exactly, and the database's clock is the one every process reads.
Ended windows are deleted at most once a minute per process, in a short transaction of
their own that skips rows another transaction holds (`SKIP LOCKED`): deleting them in the
counting transaction made two processes each wait for a row the other had just counted, a
deadlock PostgreSQL resolves by failing one of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

PRUNE_EVERY_SECONDS = 60.0

_HIT = text(
    """
    INSERT INTO limit_counters AS c (key, hits, window_ends_at)
    VALUES (:key, 1, now() + make_interval(secs => :window))
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN c.window_ends_at <= now() THEN 1 ELSE c.hits + 1 END,
        window_ends_at = CASE
            WHEN c.window_ends_at <= now() THEN EXCLUDED.window_ends_at
            ELSE c.window_ends_at
        END
    RETURNING hits, greatest(ceil(extract(epoch FROM c.window_ends_at - now())), 1)::int
    """
)
_PRUNE = text(
    """
    DELETE FROM limit_counters WHERE key IN (
        SELECT key FROM limit_counters WHERE window_ends_at < now() FOR UPDATE SKIP LOCKED
    )
    """
)


_PEEK = text(
    """
    SELECT hits, greatest(ceil(extract(epoch FROM window_ends_at - now())), 1)::int
    FROM limit_counters WHERE key = :key AND window_ends_at > now()
    """
)


@dataclass(frozen=True, slots=True)
class Hit:
    """A key's hits in its window, this one included, and the seconds until it ends."""

    hits: int
    window_left_seconds: int


class SharedCounters:
    """Counters in the `limit_counters` table (`slotgraph.models.limits`)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        prune_every_seconds: float = PRUNE_EVERY_SECONDS,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._prune_every = prune_every_seconds
        self._pruned_at = time.monotonic()

    async def hit(self, key: str, window_seconds: int) -> Hit:
        """Count one hit of `key` and answer its window's count."""
        async with self._sessionmaker.begin() as session:
            found = await self.hit_in(session, key, window_seconds)
        if time.monotonic() - self._pruned_at >= self._prune_every:
            self._pruned_at = time.monotonic()
            async with self._sessionmaker.begin() as session:
                await session.execute(_PRUNE)
        return found

    @staticmethod
    async def hit_in(session: AsyncSession, key: str, window_seconds: int) -> Hit:
        """Count one hit of `key` in the caller's transaction: the hit counts only if it
        commits (a booking counted with the booking), and the key's row stays locked until
        then, so concurrent hits of it wait and are counted in turn."""
        hits, left = (
            await session.execute(_HIT, {"key": key[:200], "window": window_seconds})
        ).one()
        return Hit(hits=int(hits), window_left_seconds=int(left))

    async def peek(self, key: str) -> Hit:
        """`key`'s hits in its current window (0 if it has none), counting nothing."""
        async with self._sessionmaker() as session:
            row = (await session.execute(_PEEK, {"key": key[:200]})).one_or_none()
        return Hit(0, 0) if row is None else Hit(hits=int(row[0]), window_left_seconds=int(row[1]))
