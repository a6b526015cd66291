"""Loose counters of one process (C33: anonymous reads may be counted per process), on
the `limits` library's moving window in memory."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class LocalCounters:
    """Moving-window counters in this process's memory; keys expire with their window."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str, limit: int, window_seconds: int) -> int | None:
        """Count one hit of `key`: None while within `limit` per `window_seconds`, else the
        seconds until a hit would be admitted again."""
        item = RateLimitItemPerSecond(limit, window_seconds)
        if self._limiter.hit(item, key):
            return None
        reset = self._limiter.get_window_stats(item, key).reset_time
        return max(1, math.ceil(reset - time.time()))
