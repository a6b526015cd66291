"""Calendar clients for tests that run the sync engine or the outbox directly: one adapter
answering for every connection."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.models import CalendarConnection
from slotgraph.providers.base import CalendarClient


@dataclass
class FixedClients:
    """`slotgraph.calendars.clients.CalendarClients` answering one adapter for every
    connection, and recording lost access as the app does."""

    adapter: CalendarClient
    sessionmaker: async_sessionmaker[AsyncSession]

    async def client(
        self, _: CalendarConnection, session: AsyncSession | None = None
    ) -> CalendarClient:
        return self.adapter

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.sessionmaker, connection_id)
