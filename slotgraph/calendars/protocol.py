"""What background work needs from the layer that holds credentials: a provider client for a
stored connection, and a way to record that its grant is gone. `slotgraph.calendars.clients`
implements it over the credential store and the provider registry; `sync` cannot reach
credentials itself, since it sits below `resolvers`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from slotgraph.models import CalendarConnection
    from slotgraph.providers.base import CalendarClient


class CalendarClients(Protocol):
    async def client(self, connection: CalendarConnection) -> CalendarClient:
        """A client for the connection (credential decrypted, OAuth tokens refreshed);
        raises `AccessRevoked` when its credential is gone."""
        ...

    async def access_lost(self, connection_id: int) -> None:
        """Mark the connection ACCESS_LOST (S13, C2)."""
        ...
