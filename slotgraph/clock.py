"""The wall clock, written once: the default "now" of every object that takes a clock.

Use cases, sync, push channels and the credential store take "now" from an injected clock
(`Services.clock` in a serving process) so a fixed clock holds for every rule (C17); this is
what they fall back on when nobody injects one. It imports nothing of ours, so every layer
may use it.
"""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """The current time, aware UTC."""
    return dt.datetime.now(dt.UTC)
