"""Loose counters of one process (C33: anonymous reads may be counted per process): a
moving window per key, in memory.

Hand-written rather than the `limits` library's moving window in memory: its
`MemoryStorage` starts a new timer thread for its expiry pass every 10 ms while hits come
in, and every thread start waits on the event loop's thread. On a busy process that was
about a seventh of a shared `availableSlots` answer's cost (BENCHMARKS.md, shared slot
answers). Here a key's hits are a deque of their times, trimmed as they are counted, and
keys whose window has passed are dropped by a sweep once per window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class LocalCounters:
    """Moving-window counters in this process's memory; keys expire with their window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, int], deque[float]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        """Keys held."""
        return len(self._hits)

    def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit of `key`: None while within `limit` per `window_seconds`, else the
        seconds until a hit would be admitted again."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + window_seconds
        hits = self._hits.setdefault((key, window_seconds), deque())
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        if len(hits) >= limit:
            # The oldest hit inside the window leaves it first: then one more fits.
            return max(1, math.ceil(hits[-limit] + window_seconds - now))
        hits.append(now)
        return None

    def _sweep(self, now: float) -> None:
        """Forget keys whose latest hit is out of its window."""
        for counted, hits in list(self._hits.items()):
            if not hits or hits[-1] <= now - counted[1]:
                del self._hits[counted]
