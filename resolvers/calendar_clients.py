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
    from models import CalendarConnection
    from providers.base import CalendarClient
    from resolvers.connections import Services


class ConnectionClients:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def client(self, connection: CalendarConnection) -> CalendarClient:
        services = self.services
        async with services.sessionmaker() as session:
            secret = await services.credentials.load(session, connection.id)
        if secret is None:
            raise AccessRevoked("This calendar was disconnected; connect it again.")
        registry = services.job_registry
        if connection.provider is Provider.EXCHANGE and registry.exchange is not None:
            return registry.exchange.client(secret)
        oauth = registry.oauth.get(connection.provider.value)
        if oauth is None:  # configuration, not the user's doing: retried until it is fixed
            raise TransientError(
                f"{connection.provider.value} is not configured on this server; the write "
                "will be retried."
            )
        tokens = services.credentials.token_source(services.sessionmaker, oauth, connection.id)
        return oauth.client(tokens, connection.account_email)

    async def access_lost(self, connection_id: int) -> None:
        await mark_access_lost(self.services.sessionmaker, connection_id, self.services.pubsub)
