"""The signed-in user (`viewer`) and everything reachable from it. The lists check the
viewer's scope and their page arguments, so their domain errors go through `DomainErrors`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.extensions import DomainErrors
from slotgraph.graph.relay import Connection
from slotgraph.graph.relay import Node
from slotgraph.graph.relay import from_cursor
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_one
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.graph.types.accounts import InboxConnection
from slotgraph.graph.types.accounts import RoleType
from slotgraph.graph.types.accounts import SeatType
from slotgraph.graph.types.accounts import TierType
from slotgraph.graph.types.api_tokens import ApiToken
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.connections import CalendarConnection
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.graph.types.settings import CalendarSettings
from slotgraph.graph.types.tasks import Task
from slotgraph.graph.types.webhooks import WebhookEndpoint
from slotgraph.usecases import reads
from slotgraph.usecases import users as users_case
from slotgraph.usecases.settings import can_customize_url
from slotgraph.usecases.settings import can_sync_tasks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.models import Account as AccountRow
    from slotgraph.models import User as UserRow
    from slotgraph.usecases.viewer import Viewer

DEFAULT_PAGE_SIZE = 20


def _viewer(info: Info) -> Viewer:
    viewer = info.context.viewer
    assert viewer is not None, "User fields are reached only through an authorised lookup"
    return viewer


class _Row(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=_Row)
NodeT = TypeVar("NodeT")
ListRows = Callable[
    ["async_sessionmaker[AsyncSession]", "Viewer", int, int | None], Awaitable[reads.Slice[RowT]]
]


def _connection(
    found: reads.Slice[RowT], after: int | None, node: Callable[[RowT], NodeT]
) -> Connection[NodeT]:
    """A keyset page as a Relay connection: a page after a cursor has rows before it."""
    return Connection.build(
        [(row.id, node(row)) for row in found.items],
        has_next_page=found.has_next_page,
        has_previous_page=after is not None,
    )


@strawberry.type(description="A user of the account.")
class User(Node):
    pk: strawberry.Private[int]
    name: str
    email: str
    time_zone: str
    locale: str
    seat: SeatType  # type: ignore[valid-type]
    tier: TierType  # type: ignore[valid-type]
    has_personal_email_access: bool = strawberry.field(
        description="Granted 'personal email access': may connect a calendar (S3)."
    )
    can_customize_meeting_url: bool = strawberry.field(
        description="May change the URL prefix and default link (S14, C7)."
    )
    can_sync_tasks: bool = strawberry.field(description="Eligible for task sync (S10).")
    role: RoleType  # type: ignore[valid-type]
    deactivated_at: dt.datetime | None = strawberry.field(
        description="Set when an admin deactivated the user: their tokens and pages stop (C23)."
    )
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return from_columns(
            cls,
            row,
            has_personal_email_access=row.personal_email_access,
            can_customize_meeting_url=can_customize_url(row),
            can_sync_tasks=can_sync_tasks(row),
        )

    def _is_viewer(self, info: Info) -> bool:
        return _viewer(info).user_id == self.pk

    async def _own_list(
        self,
        info: Info,
        list_rows: ListRows[RowT],
        first: int,
        after: str | None,
        node: Callable[[RowT], NodeT],
    ) -> Connection[NodeT]:
        """One page of one of the viewer's own lists; another user's lists are empty."""
        if not self._is_viewer(info):
            return Connection.build([], has_next_page=False, has_previous_page=False)
        cursor = from_cursor(after)
        found = await list_rows(info.context.sessionmaker, _viewer(info), first, cursor)
        return _connection(found, cursor, node)

    @strawberry.field(
        description="The viewer's account and its plan; null for users other than the viewer.",
        extensions=[DomainErrors()],
    )
    async def account(self, info: Info) -> Account | None:
        if not self._is_viewer(info):
            return None
        return Account.from_row(await users_case.get_account(info.context.services, _viewer(info)))

    @strawberry.field(description="Null for users other than the viewer.")
    async def calendar_settings(self, info: Info) -> CalendarSettings | None:
        if not self._is_viewer(info):
            return None
        return await load_one(info.context.loaders.settings, self.pk, CalendarSettings.from_row)

    @strawberry.field(
        description="The viewer's scheduling pages, oldest first.", extensions=[DomainErrors()]
    )
    async def scheduling_pages(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[SchedulingPage]:
        if not self._is_viewer(info):
            return Connection.build([], has_next_page=False, has_previous_page=False)
        loaders = info.context.loaders
        cursor = from_cursor(after)
        found = await reads.list_pages(info.context.sessionmaker, _viewer(info), first, cursor)
        loaders.prime_pages(found.items)
        base = await loaders.base_urls.load(self.pk)
        return _connection(found, cursor, lambda row: SchedulingPage.from_row(row, base))

    @strawberry.field(
        description="The viewer's calendar connections (S1, S2, S6).", extensions=[DomainErrors()]
    )
    async def calendar_connections(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[CalendarConnection]:
        return await self._own_list(
            info, reads.list_connections, first, after, CalendarConnection.from_row
        )

    @strawberry.field(
        description="The viewer's CRM tasks, oldest first (S10).", extensions=[DomainErrors()]
    )
    async def tasks(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[Task]:
        return await self._own_list(info, reads.list_tasks, first, after, Task.from_row)

    @strawberry.field(
        description="The viewer's API tokens that are not revoked, oldest first (C23).",
        extensions=[DomainErrors()],
    )
    async def api_tokens(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[ApiToken]:
        return await self._own_list(info, reads.list_api_tokens, first, after, ApiToken.from_row)

    @strawberry.field(
        description="Meetings booked with the viewer, oldest first.", extensions=[DomainErrors()]
    )
    async def bookings(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[Booking]:
        return await self._own_list(info, reads.list_bookings, first, after, Booking.from_row)

    @strawberry.field(
        description="The viewer's webhook endpoints, oldest first, with their recent "
        "deliveries (C22).",
        extensions=[DomainErrors()],
    )
    async def webhook_endpoints(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        return await self._own_list(
            info, reads.list_webhook_endpoints, first, after, WebhookEndpoint.from_row
        )

    @strawberry.field(
        description="Domains connected in the account's domain manager (S15).",
        extensions=[DomainErrors()],
    )
    async def connected_domains(self, info: Info) -> list[ConnectedDomain]:
        rows = await reads.list_domains(info.context.sessionmaker, _viewer(info))
        return [ConnectedDomain.from_row(row) for row in rows]

    @strawberry.field(
        description="The viewer's email integrations (S4, S5).", extensions=[DomainErrors()]
    )
    async def inbox_connections(self, info: Info) -> list[InboxConnection]:
        if not self._is_viewer(info):
            return []
        rows = await reads.list_inboxes(info.context.sessionmaker, _viewer(info))
        return [InboxConnection.from_row(row) for row in rows]


@strawberry.type(description="The viewer's account. Its plan is set by the operator (C39).")
class Account:
    pk: strawberry.Private[int]
    name: str
    plan_tier: TierType = strawberry.field(  # type: ignore[valid-type]
        description="The highest tier the account's users may hold (C39)."
    )
    sales_seats: int | None = strawberry.field(description="Paid Sales seats; null: no limit.")
    service_seats: int | None = strawberry.field(description="Paid Service seats; null: no limit.")
    custom_domains_enabled: bool = strawberry.field(
        description="The plan allows hosting pages on connected domains (S15, C6)."
    )

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return from_columns(cls, row)

    @strawberry.field(
        description="The account's users, deactivated ones too (admins only, C23).",
        extensions=[DomainErrors()],
    )
    async def users(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[User]:
        cursor = from_cursor(after)
        found = await users_case.list_users(
            info.context.services, info.context.viewer, first, cursor
        )
        return _connection(found, cursor, User.from_row)
