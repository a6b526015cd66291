"""Helpers for sync tests: calendar clients answering one adapter for every connection,
and a connected account whose primary calendar lives on a provider fake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.models import CalendarConnection, RemoteCalendar
from slotgraph.models.enums import CalendarAccess, ConnectionPurpose, ConnectionStatus, SyncState
from tests.fakes.scenario import TIME_ZONE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from slotgraph.models.enums import Provider
    from slotgraph.providers.base import CalendarClient
    from tests.conftest import Factory


@dataclass
class FixedClients:
    """`slotgraph.calendars.clients.CalendarClients` answering one adapter for every
    connection, and recording lost access as the app does."""

    adapter: CalendarClient
    sessionmaker: async_sessionmaker[AsyncSession]

    async def client(self, _: CalendarConnection) -> CalendarClient:
        return self.adapter

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.sessionmaker, connection_id)


async def make_connection(
    factory: Factory, provider: Provider, email: str, *, calendar_sync: bool = False
) -> tuple[CalendarConnection, RemoteCalendar]:
    """A connected account whose primary calendar (`email`) is on the provider's fake."""
    person = await factory.person()
    connection = CalendarConnection(
        account_id=person.account.id,
        user_id=person.user.id,
        provider=provider,
        account_email=email,
        purpose=ConnectionPurpose.BOTH,
        status=ConnectionStatus.CONNECTED,
        sync_state=SyncState.IDLE,
        calendar_sync_enabled=calendar_sync,
        task_sync_enabled=False,
        scheduling_pages_enabled=True,
        events_synced=0,
    )
    await factory.add(connection)
    primary = RemoteCalendar(
        account_id=person.account.id,
        connection_id=connection.id,
        remote_id=email,
        name="Calendar",
        time_zone=TIME_ZONE,
        access=CalendarAccess.OWNER,
        is_primary=True,
    )
    await factory.add(primary)
    return connection, primary
