"""Building the provider client of a stored connection, for requests and for background work.

Use cases (availability, booking) ask with the interactive registry, tuned for a person
waiting; the outbox, the sync engine and push channels ask through `ConnectionClients`,
whose clients come from the background registry: patient retries, nobody waiting.
`CalendarClients` is what those workers rely on, so a test can hand them a fake that
answers one adapter for every connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Protocol

from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.models.enums import Provider
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import TransientError

if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.credentials import CredentialStore
    from slotgraph.models import CalendarConnection
    from slotgraph.notices.pubsub import PubSub
    from slotgraph.providers.base import CalendarClient
    from slotgraph.providers.registry import ProviderRegistry


class CalendarClients(Protocol):
    """What background work needs of stored connections: a provider client, and a way to
    record that a grant is gone. `ConnectionClients` is the one implementation."""

    async def client(
        self, connection: CalendarConnection, session: AsyncSession | None = None
    ) -> CalendarClient:
        """A client for the connection (credential decrypted, OAuth tokens refreshed);
        raises `AccessRevoked` when its credential is gone. With `session`, the credential
        is read in the caller's transaction (the sync engine's first read: one fewer
        transaction per sync)."""
        ...

    async def access_lost(self, connection_id: int) -> None:
        """Mark the connection ACCESS_LOST (S13, C2)."""
        ...


def client_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    credentials: CredentialStore,
    registry: ProviderRegistry,
    connection: CalendarConnection,
    secret: dict[str, Any],
) -> CalendarClient | None:
    """The adapter for a stored connection from `registry` (the interactive or the
    background one), with OAuth tokens from the credential store's token source; None when
    this server has no adapter configured for the connection's provider."""
    if connection.provider is Provider.EXCHANGE:
        return None if registry.exchange is None else registry.exchange.client(secret)
    if connection.provider is Provider.CALDAV:
        return None if registry.caldav is None else registry.caldav.client(secret)
    oauth = registry.oauth.get(connection.provider.value)
    if oauth is None:
        return None
    tokens = credentials.token_source(sessionmaker, oauth, connection.id, secret)
    return oauth.client(tokens, connection.account_email)


@dataclass(frozen=True, slots=True)
class ConnectionClients:
    """Clients of stored connections for background work, from the background registry."""

    sessionmaker: async_sessionmaker[AsyncSession]
    credentials: CredentialStore
    registry: ProviderRegistry
    pubsub: PubSub

    async def client(
        self, connection: CalendarConnection, session: AsyncSession | None = None
    ) -> CalendarClient:
        if session is None:
            async with self.sessionmaker() as own:
                secret = await self.credentials.load(own, connection.id)
        else:
            secret = await self.credentials.load(session, connection.id)
        if secret is None:
            raise AccessRevoked("This calendar was disconnected; connect it again.")
        client = client_for(self.sessionmaker, self.credentials, self.registry, connection, secret)
        if client is None:  # configuration, not the user's doing: retried until it is fixed
            raise TransientError(
                f"{connection.provider.value} is not configured on this server; the write "
                "will be retried."
            )
        return client

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.sessionmaker, connection_id, self.pubsub)
