"""The strict counters shared by every process (C25, C33) on the real PostgreSQL: many
counters hit at once, each deleting ended windows, never deadlock (before, the delete ran in
the counting transaction, so two of them each waited for the row the other had counted),
every hit is counted, and ended windows still go."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.limits.counters import SharedCounters

KEYS = [f"test:{n}" for n in range(40)]
STALE = [f"stale:{n}" for n in range(20)]


async def _windows_ended(sessionmaker: async_sessionmaker[AsyncSession], keys: list[str]) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO limit_counters (key, hits, window_ends_at) "
                "SELECT k, 5, now() - interval '1 minute' FROM unnest(CAST(:keys AS text[])) k"
            ),
            {"keys": keys},
        )


async def test_concurrent_counters_that_prune_do_not_deadlock(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Given ended windows, for keys about to be hit and for keys no one hits again,
    await _windows_ended(sessionmaker, KEYS + STALE)
    # two processes' counters that each prune on every hit
    counters = [SharedCounters(sessionmaker, prune_every_seconds=0) for _ in range(2)]
    # when every key is hit at once, twice, through both,
    hits = await asyncio.gather(
        *(counters[n % 2].hit(key, 600) for n, key in enumerate(KEYS * 2)),
        return_exceptions=True,
    )
    # then none failed, each key's window restarted and counted both hits, and the ended
    # windows no one hit are gone.
    assert [h for h in hits if isinstance(h, BaseException)] == []
    async with sessionmaker() as session:
        found = await session.execute(text("SELECT key, hits FROM limit_counters"))
        rows: dict[str, int] = {key: hits for key, hits in found.all()}
    assert rows == {key: 2 for key in KEYS}
