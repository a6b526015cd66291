"""Calendar clients for sync tests: one adapter for every connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from resolvers.credentials import mark_access_lost

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from models import CalendarConnection
    from providers.base import CalendarClient


@dataclass
class FixedClients:
    """`sync.clients.CalendarClients` answering one adapter for every connection, and
    recording lost access as the app does."""

    adapter: CalendarClient
    sessionmaker: async_sessionmaker[AsyncSession]

    async def client(self, _: CalendarConnection) -> CalendarClient:
        return self.adapter

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.sessionmaker, connection_id)
