"""Lost access (C2, S13) and its end (C27), written once for the use cases and the workers.

Two things can be lost. A revoked grant marks the whole connection ACCESS_LOST
(`mark_access_lost`); a calendar deleted or unshared at the provider marks that one calendar
ACCESS_LOST (`mark_calendars_lost`). Either way booking with the user stops (S13) until
they reconnect, regain access, or remove the calendar from their availability calendars
(the "X"); the host's pages and the connection's watchers hear of it after commit.

C27: a calendar lost because of a provider answer is still read (by the sync engine and by
availability's live reads), and the first read that succeeds makes it CONNECTED again
(`mark_calendars_regained`, `calendars_regained`): booking works again without reconnecting.
A revoked grant is not a provider answer about a calendar: the connection needs a reconnect.

C44: a refused password credential (CalDAV's 401) is different: the same app password may
work again (re-enabled, or the server was misconfigured), so such connections stay due for
sync, re-probed with backoff (`reprobed`), and the first run that succeeds makes the
connection CONNECTED again (`mark_access_regained`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING
from typing import Final

import structlog
from sqlalchemy import update

from slotgraph.jobs.webhooks import CONNECTION_STATUS_CHANGED
from slotgraph.jobs.webhooks import enqueue_webhooks
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.notices.changes import publish_connection_changed
from slotgraph.notices.changes import publish_host_changed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.notices.pubsub import PubSub

log = structlog.get_logger("slotgraph.lost_access")

# C44: providers whose lost access is re-probed rather than waiting for a reconnect.
REPROBED: Final = frozenset({Provider.CALDAV})


def reprobed(provider: Provider) -> bool:
    return provider in REPROBED


async def mark_access_regained(session: AsyncSession, connection_id: int) -> bool:
    """C44/C27: a re-probed connection was read again: CONNECTED, in the caller's
    transaction (the sync engine tells the host's pages after commit). Whether it was
    ACCESS_LOST."""
    changed = await session.execute(
        update(CalendarConnection)
        .where(
            CalendarConnection.id == connection_id,
            CalendarConnection.status == ConnectionStatus.ACCESS_LOST,
        )
        .values(status=ConnectionStatus.CONNECTED, last_error=None)
        .returning(CalendarConnection)
    )
    connection = changed.scalar_one_or_none()
    if connection is None:
        return False
    log.info("calendar access regained", connection_id=connection_id)
    await enqueue_webhooks(session, CONNECTION_STATUS_CHANGED, connection)
    return True


async def mark_access_lost(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection_id: int,
    pubsub: PubSub | None = None,
) -> None:
    """S13/C2: a revoked grant. Booking with this user stops until they reconnect; the
    connection's watchers and the host's pages hear of it after commit (`pubsub` None:
    a process nobody subscribes to)."""
    async with sessionmaker.begin() as session:
        changed = await session.execute(
            update(CalendarConnection)
            .where(
                CalendarConnection.id == connection_id,
                CalendarConnection.status == ConnectionStatus.CONNECTED,
            )
            .values(
                status=ConnectionStatus.ACCESS_LOST,
                last_error="Access to the calendar was revoked; reconnect it.",
            )
            .returning(CalendarConnection)
        )
        connection = changed.scalar_one_or_none()
        if connection is None:
            return
        await enqueue_webhooks(session, CONNECTION_STATUS_CHANGED, connection)
    host_user_id = connection.user_id
    log.warning("calendar access lost", connection_id=connection_id)
    if pubsub is not None:
        await publish_connection_changed(pubsub, connection_id)
        await publish_host_changed(pubsub, sessionmaker, host_user_id)


async def mark_calendars_lost(session: AsyncSession, calendar_ids: Collection[int]) -> list[int]:
    """C2: calendars deleted or unshared at the provider become ACCESS_LOST, in the caller's
    transaction (the sync engine drops their synced events in the same one). Returns the
    ids that were still CONNECTED. The caller tells the host's pages after commit
    (`calendars_lost` does both for a caller without a transaction of its own)."""
    lost = await _move(session, calendar_ids, CalendarStatus.CONNECTED, CalendarStatus.ACCESS_LOST)
    if lost:
        log.warning("calendar access lost", calendar_ids=lost)
    return lost


async def _move(
    session: AsyncSession, calendar_ids: Collection[int], was: CalendarStatus, to: CalendarStatus
) -> list[int]:
    """Calendars of `calendar_ids` in status `was` put in status `to`; their ids, sorted."""
    if not calendar_ids:
        return []
    changed = await session.execute(
        update(RemoteCalendar)
        .where(RemoteCalendar.id.in_(calendar_ids), RemoteCalendar.status == was)
        .values(status=to)
        .returning(RemoteCalendar.id)
    )
    return sorted(changed.scalars())


async def calendars_lost(
    sessionmaker: async_sessionmaker[AsyncSession],
    pubsub: PubSub,
    host_user_id: int,
    calendar_ids: Collection[int],
) -> None:
    """`mark_calendars_lost` in a transaction of its own, then the host's pages are told."""
    async with sessionmaker.begin() as session:
        await mark_calendars_lost(session, calendar_ids)
    await publish_host_changed(pubsub, sessionmaker, host_user_id)


async def mark_calendars_regained(
    session: AsyncSession, calendar_ids: Collection[int]
) -> list[int]:
    """C27: lost calendars a read has just succeeded on become CONNECTED again, in the
    caller's transaction. Returns the ids that were ACCESS_LOST; the caller tells the host's
    pages after commit (`calendars_regained` does both)."""
    regained = await _move(
        session, calendar_ids, CalendarStatus.ACCESS_LOST, CalendarStatus.CONNECTED
    )
    if regained:
        log.info("calendar access regained", calendar_ids=regained)
    return regained


async def calendars_regained(
    sessionmaker: async_sessionmaker[AsyncSession],
    pubsub: PubSub,
    host_user_id: int,
    calendar_ids: Collection[int],
) -> None:
    """`mark_calendars_regained` in a transaction of its own, then the host's pages are told
    (when anything changed)."""
    async with sessionmaker.begin() as session:
        regained = await mark_calendars_regained(session, calendar_ids)
    if regained:
        await publish_host_changed(pubsub, sessionmaker, host_user_id)
