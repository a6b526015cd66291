"""`syncStatus`'s use case: a revoked grant marked by the credential store (S13, C2)
reaches the connection's watchers as ACCESS_LOST (C1)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Scope
from slotgraph.models.enums import SyncState
from slotgraph.usecases.services import Services
from slotgraph.usecases.subscriptions import watch_connection
from slotgraph.usecases.viewer import Viewer
from tests.helpers.accounts import Factory

GUARD = 10  # seconds; a guard against hanging, never a measurement


async def test_a_revoked_grant_reaches_the_connections_watchers(
    app: Starlette, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    services: Services = app.state.runtime.services
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    viewer = Viewer(
        user_id=ada.user.id, account_id=ada.account.id, scopes=frozenset(Scope), token_id=0
    )
    watch = watch_connection(services, viewer, connection.id)
    first = await asyncio.wait_for(anext(watch), GUARD)
    assert (first.status, first.sync_state) == (ConnectionStatus.CONNECTED, SyncState.IDLE)

    await mark_access_lost(sessionmaker, connection.id, services.pubsub)
    lost = await asyncio.wait_for(anext(watch), GUARD)
    assert (lost.status, lost.sync_state, lost.last_error) == (
        ConnectionStatus.ACCESS_LOST,
        SyncState.IDLE,
        "Access to the calendar was revoked; reconnect it.",
    )
    await watch.aclose()
