"""What a sync run is given and how it ends: the configuration (from `Settings`), the
per-process context with its hooks and clock, and the outcomes a run reports.

Hooks notify others after a commit (`on_state_change`, `on_busy_change`, `on_synced`);
their failure must not undo or stop a committed sync, so they are called through
`call_hook`.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import secrets
import socket
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import structlog

from slotgraph.clock import utc_now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.clients import CalendarClients

log = structlog.get_logger("slotgraph.sync")

Hook = Callable[[int], Awaitable[None]]


async def no_hook(_: int) -> None:
    """The default hook: nothing to tell."""


def default_worker_id() -> str:
    """Host, process and a random tag: unique per worker, readable in the table."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """How often and how far ahead to sync, and how to back off (from `Settings`)."""

    interval: dt.timedelta = dt.timedelta(minutes=5)
    # The synced span: from `past` before now to `ahead` after it, plus `margin` so the
    # span is listed afresh about once per margin rather than on every run.
    ahead: dt.timedelta = dt.timedelta(days=62)
    past: dt.timedelta = dt.timedelta(days=1)
    margin: dt.timedelta = dt.timedelta(days=7)
    lease: dt.timedelta = dt.timedelta(minutes=5)
    max_attempts: int = 5
    initial_backoff: dt.timedelta = dt.timedelta(seconds=30)
    max_backoff: dt.timedelta = dt.timedelta(minutes=30)
    # Syncs in flight per worker: each waits on the provider most of its time (Google
    # answers in ~100-300 ms), holding no database connection while it does.
    concurrency: int = 16
    batch: int = 50
    poll_seconds: float = 5.0

    def backoff(self, attempts: int) -> dt.timedelta:
        """The wait after `attempts` failed runs in a row (1-based): doubling, capped."""
        doubled: dt.timedelta = self.initial_backoff * 2 ** (attempts - 1)
        return min(self.max_backoff, doubled)


@dataclass(frozen=True, slots=True)
class SyncContext:
    """Everything a sync run needs; one per worker process."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clients: CalendarClients
    config: SyncConfig = SyncConfig()
    on_state_change: Hook = no_hook
    on_busy_change: Hook = no_hook
    # Called with the connection id after each successful run: push channels are opened
    # (or reopened) there (`slotgraph.calsync.watches.Watches.ensure`).
    on_synced: Hook = no_hook
    clock: Callable[[], dt.datetime] = utc_now
    worker: str = field(default_factory=default_worker_id)


class Outcome(enum.StrEnum):
    """How one run ended (for callers and logs; the connection row holds the details)."""

    SYNCED = "SYNCED"
    FAILED = "FAILED"
    PARKED = "PARKED"
    ACCESS_LOST = "ACCESS_LOST"
    LEASE_LOST = "LEASE_LOST"  # taken over by another worker, or disconnected meanwhile


class LeaseLost(Exception):
    """Another worker took over this connection (our lease expired): stop without writing."""


async def call_hook(hook: Hook, value: int) -> None:
    """Hooks notify others; their failure must not undo or stop a committed sync."""
    try:
        await hook(value)
    except Exception:  # whatever a subscriber's transport raises
        log.exception("sync hook failed", value=value)
