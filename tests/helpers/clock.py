"""A clock the test moves by hand, for code that takes `clock: Callable[[], datetime]`
(the sync engine, push channels, the busy cache): leases, expiries and backoff without
sleeping."""

from __future__ import annotations

import datetime as dt


class Clock:
    """Answers `now` until the test moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta | float) -> None:
        """Move on by `delta` (a timedelta, or seconds)."""
        self.now += delta if isinstance(delta, dt.timedelta) else dt.timedelta(seconds=delta)
