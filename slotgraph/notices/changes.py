"""What changed, in the pub/sub's vocabulary: the calls every writer makes after commit.

Three channels, each carrying one kind of id:
- `page`: a scheduling page whose free slots may have changed (`availabilityChanged`);
- `connection`: a calendar connection whose status or sync state changed (`syncStatus`, C1);
- `booking`: a host (user id) with new booking events (`bookingEvents`, C21).

A host's calendar or bookings change the slots of every page of that host, so most
writers call `publish_host_changed`. Call these after the transaction committed: a
subscriber woken before the commit would re-read the old state and miss the change.
They never raise: the change is already committed, so a failed notice is logged and the
use case still succeeds; subscribers catch up on the next notice (or on the resync after
their process's listener reconnects).

    await publish_connection_changed(pubsub, connection.id)          # status / sync state
    await publish_host_changed(pubsub, sessionmaker, host_user_id)   # bookings, calendars
    await publish_page_changed(pubsub, [page.id])                    # one page's rules
    await publish_booking_events(pubsub, host_user_id)               # booking events
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from slotgraph.models import SchedulingPage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.notices.pubsub import PubSub

log = structlog.get_logger("slotgraph.changes")

PAGE = "page"
CONNECTION = "connection"
BOOKING = "booking"
# A notice waits at most this long (a busy pool, an unreachable server) before it is dropped.
PUBLISH_TIMEOUT_SECONDS = 5.0


@contextlib.asynccontextmanager
async def _best_effort(what: str) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            yield
    except Exception as exc:  # the change is committed; only its notice is lost
        log.warning("change notice not sent", what=what, error=type(exc).__name__)


async def publish_page_changed(pubsub: PubSub, page_ids: Iterable[int]) -> None:
    """The slots of these pages may have changed."""
    async with _best_effort(PAGE):
        await pubsub.publish(PAGE, *(str(page_id) for page_id in page_ids))


async def publish_connection_changed(pubsub: PubSub, connection_id: int) -> None:
    """The connection's status, sync state or toggles changed (C1)."""
    async with _best_effort(CONNECTION):
        await pubsub.publish(CONNECTION, str(connection_id))


async def publish_booking_events(pubsub: PubSub, host_user_id: int) -> None:
    """The host has new booking events (rows of `booking_events`)."""
    async with _best_effort(BOOKING):
        await pubsub.publish(BOOKING, str(host_user_id))


async def host_page_ids(session: AsyncSession, host_user_id: int) -> list[int]:
    return list(
        (
            await session.execute(
                select(SchedulingPage.id).where(SchedulingPage.user_id == host_user_id)
            )
        ).scalars()
    )


async def publish_host_changed(
    pubsub: PubSub, sessionmaker: async_sessionmaker[AsyncSession], host_user_id: int
) -> None:
    """A booking, cancellation, calendar or connection change of this host: the slots of
    all the host's pages may have changed."""

    async def pages() -> list[int]:
        async with sessionmaker() as session:
            return await host_page_ids(session, host_user_id)

    async with _best_effort(PAGE):
        await pubsub.publish_host(PAGE, host_user_id, pages)
