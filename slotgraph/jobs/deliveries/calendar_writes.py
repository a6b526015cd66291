"""What the deliveries that write to a calendar (booking events, task events) share: a
client for the connection, lost access recorded on a revoked grant (S13, C2), and provider
failures sorted for the outbox's retries.

A connection already ACCESS_LOST is not asked at all: the row waits with its backoff until
the user reconnects. `NotOffered` and `CalendarGone` are permanent (retrying cannot help);
any other provider failure is retried, never sooner than the provider's Retry-After.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

from slotgraph.jobs.outbox import Delivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.models.enums import ConnectionStatus
from slotgraph.providers.base import AccessRevoked
from slotgraph.providers.base import CalendarGone
from slotgraph.providers.base import NotOffered
from slotgraph.providers.base import ProviderError
from slotgraph.providers.base import TransientError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.clients import CalendarClients
    from slotgraph.models import CalendarConnection
    from slotgraph.models import OutboxMessage
    from slotgraph.providers.base import CalendarClient

T = TypeVar("T")

LOST = "Access to the host's calendar was lost; reconnect it and the meeting will be written."


class CalendarDelivery(Delivery):
    """A delivery that writes to calendars through stored connections (`write`)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], clients: CalendarClients
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clients = clients

    async def deliver(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        try:
            return await self.write(message)
        except ProviderError as error:
            raise provider_failure(error) from None

    @abstractmethod
    async def write(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        """Do the calendar work of `message`; provider errors are sorted by `deliver`."""

    async def client(self, connection: CalendarConnection) -> CalendarClient:
        if connection.status is ConnectionStatus.ACCESS_LOST:
            raise DeliveryFailure(LOST)
        return await self.guarded(connection, self.clients.client(connection))

    async def guarded(self, connection: CalendarConnection, call: Awaitable[T]) -> T:
        """Await a provider call; a revoked grant marks the connection ACCESS_LOST."""
        try:
            return await call
        except AccessRevoked:
            await self.clients.access_lost(connection.id)
            raise DeliveryFailure(LOST) from None


def provider_failure(error: ProviderError) -> DeliveryFailure:
    if isinstance(error, (NotOffered, CalendarGone)):
        return DeliveryFailure(error.message, permanent=True)
    retry_after = error.retry_after if isinstance(error, TransientError) else None
    return DeliveryFailure(error.message, retry_after=retry_after)
