"""The provider client of a stored connection, for the sync engine: the credential is
decrypted for the call and OAuth tokens come from the credential store's token source,
which refreshes them and marks the connection ACCESS_LOST when the grant is revoked (S13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.enums import Provider
from providers.base import AccessRevoked, CalendarClient, NotOffered

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from models import CalendarConnection
    from providers.registry import ProviderRegistry
    from resolvers.credentials import CredentialStore
    from sync.engine import ClientFactory


def registry_clients(
    registry: ProviderRegistry,
    credentials: CredentialStore,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> ClientFactory:
    """A `ClientFactory` over the process's provider registry."""

    async def client_for(connection: CalendarConnection) -> CalendarClient:
        async with sessionmaker() as session:
            secret = await credentials.load(session, connection.id)
        if secret is None:
            raise AccessRevoked("This calendar was disconnected; connect it again.")
        if connection.provider is Provider.EXCHANGE:
            if registry.exchange is None:
                raise NotOffered("Exchange is not enabled on this server.")
            return registry.exchange.client(secret)
        oauth = registry.oauth.get(connection.provider.value)
        if oauth is None:
            raise NotOffered(f"{connection.provider.value} is not configured on this server.")
        tokens = credentials.token_source(sessionmaker, oauth, connection.id)
        return oauth.client(tokens, connection.account_email)

    return client_for
