"""Calendar clients for background work: `sync.clients.CalendarClients` over the credential
store and the provider registry (the outbox cannot reach credentials itself: `sync` sits
below `resolvers`). Used by the outbox and the sync engine, so its clients come from the
background registry: patient retries, nobody waiting (#4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.enums import Provider
from providers.base import AccessRevoked, TransientError
from resolvers.credentials import mark_access_lost

if TYPE_CHECKING:
    from typing import Any

    from models import CalendarConnection
    from providers.base import CalendarClient
    from providers.registry import ProviderRegistry
    from resolvers.connections import Services


def client_for(
    services: Services,
    registry: ProviderRegistry,
    connection: CalendarConnection,
    secret: dict[str, Any],
) -> CalendarClient | None:
    """The adapter for a stored connection from `registry` (the interactive or the
    background one), with OAuth tokens from the credential store's token source; None when
    this server has no adapter configured for the connection's provider."""
    if connection.provider is Provider.EXCHANGE:
        return None if registry.exchange is None else registry.exchange.client(secret)
    oauth = registry.oauth.get(connection.provider.value)
    if oauth is None:
        return None
    tokens = services.credentials.token_source(services.sessionmaker, oauth, connection.id)
    return oauth.client(tokens, connection.account_email)


class ConnectionClients:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def client(self, connection: CalendarConnection) -> CalendarClient:
        services = self.services
        async with services.sessionmaker() as session:
            secret = await services.credentials.load(session, connection.id)
        if secret is None:
            raise AccessRevoked("This calendar was disconnected; connect it again.")
        client = client_for(services, services.job_registry, connection, secret)
        if client is None:  # configuration, not the user's doing: retried until it is fixed
            raise TransientError(
                f"{connection.provider.value} is not configured on this server; the write "
                "will be retried."
            )
        return client

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.services.sessionmaker, connection_id, self.services.pubsub)
