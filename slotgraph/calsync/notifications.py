"""What a push notification does, once the route has read it: verify it
against the stored watch and make the connection due (`slotgraph.calsync.engine.request_sync`, which
enqueues its sync job in the same transaction). Nothing here talks to a provider, so a
notification is answered within milliseconds, as Google and Graph require.

Verification: the watch is found by the provider's id for it (Google's channel id, Graph's
`subscriptionId`) and the echoed secret (channel token, `clientState`) is compared with the
stored hash in constant time. An unknown id or a wrong secret changes nothing.

Graph lifecycle events: `reauthorizationRequired` enqueues a renewal of the subscription;
`missed` drops the calendar's sync cursor so the next sync lists it in full;
`subscriptionRemoved` does the same and forgets the watch, which the sync that follows
reopens (`slotgraph.calsync.watches.Watches.ensure`).
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

import structlog
from sqlalchemy import delete
from sqlalchemy import select

from slotgraph.calsync.engine import request_sync
from slotgraph.calsync.watches import RENEW_JOB
from slotgraph.calsync.watches import token_hash
from slotgraph.jobs.queue import enqueue
from slotgraph.models import CalendarSyncCursor
from slotgraph.models import CalendarWatch
from slotgraph.models.enums import Provider

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

log = structlog.get_logger("slotgraph.notifications")

GOOGLE_STATES: Final = frozenset({"sync", "exists", "not_exists"})


class Verdict(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    UNKNOWN = "UNKNOWN"  # no such watch (stopped, or never ours)
    FORGED = "FORGED"  # the secret (or Google's resource id) does not match


async def _verified(
    session: AsyncSession,
    provider: Provider,
    remote_id: str,
    token: str,
) -> tuple[Verdict, CalendarWatch | None]:
    row = (
        await session.execute(
            select(CalendarWatch)
            .where(CalendarWatch.provider == provider, CalendarWatch.remote_id == remote_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        return Verdict.UNKNOWN, None
    if not hmac.compare_digest(token_hash(token), row.token_hash):
        return Verdict.FORGED, None
    return Verdict.ACCEPTED, row


async def google_notification(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    channel_id: str,
    token: str,
    resource_id: str,
    state: str,
    now: dt.datetime,
) -> Verdict:
    """One `events.watch` notification. `sync` is the channel's first message (nothing
    changed yet); `exists` / `not_exists` mean the calendar's events changed."""
    if state not in GOOGLE_STATES:
        return Verdict.FORGED
    async with sessionmaker.begin() as session:
        verdict, row = await _verified(session, Provider.GOOGLE, channel_id, token)
        if verdict is Verdict.UNKNOWN and state == "sync":
            # Google sends `sync` while `events.watch` is still answering us, so before the
            # channel is stored: acknowledged, with nothing to do.
            return Verdict.ACCEPTED
        if row is None:
            return verdict
        if row.resource_id is not None and not hmac.compare_digest(
            resource_id.encode(), row.resource_id.encode()
        ):
            return Verdict.FORGED
        if state != "sync":
            await request_sync(session, row.connection_id, now, on_demand=False)
    return Verdict.ACCEPTED


async def graph_notifications(
    sessionmaker: async_sessionmaker[AsyncSession],
    items: Sequence[Mapping[str, Any]],
    *,
    now: dt.datetime,
) -> tuple[int, int]:
    """A batch of Graph change or lifecycle notifications; (accepted, refused). Each item is
    verified on its own: a batch may mix subscriptions."""
    accepted = refused = 0
    for item in items:
        subscription = item.get("subscriptionId")
        client_state = item.get("clientState")
        if not isinstance(subscription, str) or not isinstance(client_state, str):
            refused += 1
            continue
        async with sessionmaker.begin() as session:
            verdict, row = await _verified(
                session, Provider.MICROSOFT365, subscription, client_state
            )
            if row is None:
                refused += 1
                log.warning("graph notification refused", verdict=verdict.value)
                continue
            await _act(session, row, item.get("lifecycleEvent"), now)
        accepted += 1
    return accepted, refused


async def _act(
    session: AsyncSession, row: CalendarWatch, lifecycle: object, now: dt.datetime
) -> None:
    match lifecycle:
        case None:
            await request_sync(session, row.connection_id, now, on_demand=False)
        case "reauthorizationRequired":
            await enqueue(session, RENEW_JOB, {"id": row.id}, dedupe_key=f"watch:{row.id}")
        case "missed":
            await _full_resync(session, row, now)
        case "subscriptionRemoved":
            await session.execute(delete(CalendarWatch).where(CalendarWatch.id == row.id))
            await _full_resync(session, row, now)
        case _:  # a lifecycle event newer than this code: a resync is always safe
            await request_sync(session, row.connection_id, now, on_demand=False)


async def _full_resync(session: AsyncSession, row: CalendarWatch, now: dt.datetime) -> None:
    """Notifications may have been lost: list the calendar afresh rather than trust the
    delta cursor, in the sync run this enqueues."""
    await session.execute(
        delete(CalendarSyncCursor).where(
            CalendarSyncCursor.remote_calendar_id == row.remote_calendar_id
        )
    )
    await request_sync(session, row.connection_id, now, on_demand=False)
