"""DataLoaders, built per operation for one viewer, so each list costs one query however
many objects ask (no N+1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import TypeVar

from strawberry.dataloader import DataLoader

from slotgraph.usecases import reads

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.models import ApiToken
    from slotgraph.models import Booking
    from slotgraph.models import CalendarConnection
    from slotgraph.models import CalendarSettings
    from slotgraph.models import ConnectedDomain
    from slotgraph.models import Contact
    from slotgraph.models import InboxConnection
    from slotgraph.models import RemoteCalendar
    from slotgraph.models import SchedulingPage
    from slotgraph.models import Task
    from slotgraph.models import User
    from slotgraph.models import WebhookAttempt
    from slotgraph.models import WebhookDelivery
    from slotgraph.models import WebhookEndpoint
    from slotgraph.usecases.viewer import Viewer

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        viewer: Viewer | None,
        public_base_url: str,
    ) -> None:
        self._sm = sessionmaker
        self._viewer = viewer
        self.public_base_url = public_base_url
        self.users: DataLoader[int, User | None] = self._make(reads.users)
        self.settings: DataLoader[int, CalendarSettings | None] = self._make(reads.settings)
        self.pages: DataLoader[int, SchedulingPage | None] = self._make(reads.pages)
        self.domains: DataLoader[int, ConnectedDomain | None] = self._make(reads.domains)
        self.connections: DataLoader[int, CalendarConnection | None] = self._make(reads.connections)
        self.remote_calendars: DataLoader[int, RemoteCalendar | None] = self._make(
            reads.remote_calendars
        )
        self.calendars_of_connection: DataLoader[int, list[RemoteCalendar]] = self._make(
            reads.remote_calendars_of_connections
        )
        self.inboxes: DataLoader[int, InboxConnection | None] = self._make(reads.inboxes)
        self.bookings: DataLoader[int, Booking | None] = self._make(reads.bookings)
        self.contacts: DataLoader[int, Contact | None] = self._make(reads.contacts)
        self.tasks: DataLoader[int, Task | None] = self._make(reads.tasks)
        self.api_tokens: DataLoader[int, ApiToken | None] = self._make(reads.api_tokens)
        self.webhook_endpoints: DataLoader[int, WebhookEndpoint | None] = self._make(
            reads.webhook_endpoints
        )
        self.webhook_deliveries: DataLoader[
            int, tuple[WebhookDelivery, dt.datetime | None] | None
        ] = self._make(reads.webhook_deliveries)
        self.recent_webhook_deliveries: DataLoader[
            int, list[tuple[WebhookDelivery, dt.datetime | None]]
        ] = self._make(reads.recent_webhook_deliveries)
        self.webhook_attempts: DataLoader[int, list[WebhookAttempt]] = self._make(
            reads.webhook_attempts
        )
        self.base_urls: DataLoader[int, str] = self._make(self._base_urls)
        self._availability: DataLoader[int, frozenset[int]] = self._make(self._availability_ids)

    def _make(
        self,
        fetch: Callable[
            [async_sessionmaker[AsyncSession], Viewer, Sequence[int]], Awaitable[list[V]]
        ],
    ) -> DataLoader[int, V]:
        async def load(keys: list[int]) -> list[V]:
            assert self._viewer is not None, "private loaders need a viewer"
            return await fetch(self._sm, self._viewer, keys)

        return DataLoader(load_fn=load)

    async def _base_urls(
        self, sm: async_sessionmaker[AsyncSession], viewer: Viewer, user_ids: Sequence[int]
    ) -> list[str]:
        return await reads.base_urls(sm, viewer, user_ids, self.public_base_url)

    async def _availability_ids(
        self, sm: async_sessionmaker[AsyncSession], viewer: Viewer, user_ids: Sequence[int]
    ) -> list[frozenset[int]]:
        selected = await reads.availability_calendar_ids(sm, viewer)
        return [selected if user_id == viewer.user_id else frozenset() for user_id in user_ids]

    async def availability_calendar_ids(self) -> frozenset[int]:
        """The viewer's availability selection, read once per operation however many
        calendars ask (concurrent resolvers share one batched load)."""
        assert self._viewer is not None
        return await self._availability.load(self._viewer.user_id)

    def prime_pages(self, pages: Sequence[SchedulingPage]) -> None:
        self.pages.prime_many({page.id: page for page in pages})
