"""Batched, tenant-scoped reads behind the GraphQL DataLoaders and `node(id:)`.

Each batched read takes many ids and answers in one query, in the order asked, with None for
an id the viewer may not see (another account's, or another user's private object): the
caller cannot tell the two apart (C9). Scope per type: users, contacts and domains are
account-wide; connections, calendars, pages, settings, inboxes, bookings, tasks and
webhook endpoints (with their deliveries) are the viewer's own.

These take a sessionmaker, not `Services`: they are plain tenant-scoped SELECTs with no
clock, no provider, no notice and no rule beyond the scope, and the DataLoaders
(`slotgraph.graph.loaders`) that batch them are built per request from the sessionmaker
alone. Handing them the whole dependency object would only widen what a read can reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Generic
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased

from slotgraph.models import ApiToken
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSettings
from slotgraph.models import ConnectedDomain
from slotgraph.models import Contact
from slotgraph.models import InboxConnection
from slotgraph.models import OutboxMessage
from slotgraph.models import RemoteCalendar
from slotgraph.models import SchedulingPage
from slotgraph.models import Task
from slotgraph.models import User
from slotgraph.models import WebhookAttempt
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.base import AccountRow
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxState
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.pages import MAX_PAGE_SIZE
from slotgraph.usecases.pages import base_url
from slotgraph.usecases.scoped_rows import RowScope
from slotgraph.usecases.scoped_rows import in_account
from slotgraph.usecases.scoped_rows import of_user
from slotgraph.usecases.scoped_rows import own_calendars
from slotgraph.usecases.scoped_rows import own_endpoints
from slotgraph.usecases.scoped_rows import own_tasks
from slotgraph.usecases.verified_domains import verified_domain
from slotgraph.usecases.viewer import Viewer

Row = TypeVar("Row")
Listed = TypeVar("Listed", bound=AccountRow)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a keyset-paginated list."""

    items: list[T]
    has_next_page: bool


def _ordered(rows: Sequence[Any], ids: Sequence[int], key: str = "id") -> list[Any]:
    by_id = {getattr(row, key): row for row in rows}
    return [by_id.get(i) for i in ids]


@dataclass(frozen=True, slots=True)
class _ByIds(Generic[Row]):
    """A batched read of `model` by `key` ("id" unless said), within `scope`: one query for
    many ids, answered in the order asked with None for what the viewer may not see.

    Each DataLoader's read differs only in the table, the key and the scope, so each is one
    row of the table below instead of a function repeating the query."""

    model: type[Row]
    scope: RowScope
    key: str = "id"

    async def __call__(
        self, sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
    ) -> list[Row | None]:
        column = getattr(self.model, self.key)
        query = select(self.model).where(column.in_(ids), self.scope(viewer))
        async with sm() as session:
            rows = (await session.execute(query)).scalars().all()
        return _ordered(rows, ids, self.key)


def _live_tokens(viewer: Viewer) -> ColumnElement[bool]:
    """The viewer's tokens that are not revoked (expired ones stay listed, marked so)."""
    return (ApiToken.user_id == viewer.user_id) & ApiToken.revoked_at.is_(None)


users = _ByIds(User, in_account(User.account_id))
contacts = _ByIds(Contact, in_account(Contact.account_id))
domains = _ByIds(ConnectedDomain, in_account(ConnectedDomain.account_id))
# The viewer's own tokens only: even an admin sees no one else's (C23).
api_tokens = _ByIds(ApiToken, of_user(ApiToken.user_id))
settings = _ByIds(CalendarSettings, of_user(CalendarSettings.user_id), key="user_id")
pages = _ByIds(SchedulingPage, of_user(SchedulingPage.user_id))
connections = _ByIds(CalendarConnection, of_user(CalendarConnection.user_id))
inboxes = _ByIds(InboxConnection, of_user(InboxConnection.user_id))
bookings = _ByIds(Booking, of_user(Booking.host_user_id))
tasks = _ByIds(Task, own_tasks)
webhook_endpoints = _ByIds(WebhookEndpoint, own_endpoints)


async def remote_calendars(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[RemoteCalendar | None]:
    async with sm() as session:
        found = await session.execute(own_calendars(viewer).where(RemoteCalendar.id.in_(ids)))
        rows = found.scalars().all()
    return _ordered(rows, ids)


async def remote_calendars_of_connections(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, connection_ids: Sequence[int]
) -> list[list[RemoteCalendar]]:
    async with sm() as session:
        found = await session.execute(
            own_calendars(viewer)
            .where(RemoteCalendar.connection_id.in_(connection_ids))
            .order_by(RemoteCalendar.is_primary.desc(), RemoteCalendar.id)
        )
        rows = found.scalars().all()
    grouped: dict[int, list[RemoteCalendar]] = {i: [] for i in connection_ids}
    for row in rows:
        grouped[row.connection_id].append(row)
    return [grouped[i] for i in connection_ids]


async def availability_calendar_ids(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer
) -> frozenset[int]:
    async with sm() as session:
        rows = await session.execute(
            select(AvailabilityCalendar.remote_calendar_id).where(
                AvailabilityCalendar.user_id == viewer.user_id
            )
        )
        return frozenset(rows.scalars())


async def base_urls(
    sm: async_sessionmaker[AsyncSession],
    viewer: Viewer,
    user_ids: Sequence[int],
    public_base_url: str,
) -> list[str]:
    """Each user's meeting base URL (S15): their meeting domain or the app address."""
    async with sm() as session:
        rows = (
            await session.execute(
                select(CalendarSettings.user_id, ConnectedDomain.domain)
                .outerjoin(
                    ConnectedDomain,
                    (ConnectedDomain.id == CalendarSettings.meeting_domain_id) & verified_domain(),
                )
                .where(
                    CalendarSettings.user_id.in_(user_ids),
                    CalendarSettings.account_id == viewer.account_id,
                )
            )
        ).all()
    domains_by_user = {row.user_id: row.domain for row in rows}
    return [base_url(public_base_url, domains_by_user.get(i)) for i in user_ids]


@dataclass(frozen=True, slots=True)
class _Keyset(Generic[Listed]):
    """A keyset-paginated list of `model` within `scope`, by id: `first` rows after the id
    `after`. Like `_ByIds`, each list is a row of the table below."""

    model: type[Listed]
    scope: RowScope

    async def __call__(
        self, sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
    ) -> Slice[Listed]:
        viewer.require(Scope.READ)
        if not 0 <= first <= MAX_PAGE_SIZE:
            raise InvalidInput(f"`first` must be 0 to {MAX_PAGE_SIZE}.", field="first")
        id_column = self.model.id
        query = select(self.model).where(self.scope(viewer))
        if after is not None:
            query = query.where(id_column > after)
        async with sm() as session:
            found = await session.execute(query.order_by(id_column).limit(first + 1))
            rows = list(found.scalars())
        return Slice(items=rows[:first], has_next_page=len(rows) > first)


list_connections = _Keyset(CalendarConnection, of_user(CalendarConnection.user_id))
# Every user of the viewer's account, deactivated ones too (admins list them, C23).
list_account_users = _Keyset(User, in_account(User.account_id))
list_api_tokens = _Keyset(ApiToken, _live_tokens)
list_bookings = _Keyset(Booking, of_user(Booking.host_user_id))
list_tasks = _Keyset(Task, own_tasks)
list_pages = _Keyset(SchedulingPage, of_user(SchedulingPage.user_id))
list_webhook_endpoints = _Keyset(WebhookEndpoint, own_endpoints)


@dataclass(frozen=True, slots=True)
class _All(Generic[Row]):
    """Every row of `model` within `scope`, ordered by the column named `order_by`: for the
    short lists that are not paginated."""

    model: type[Row]
    scope: RowScope
    order_by: str

    async def __call__(self, sm: async_sessionmaker[AsyncSession], viewer: Viewer) -> list[Row]:
        viewer.require(Scope.READ)
        query = select(self.model).where(self.scope(viewer))
        async with sm() as session:
            found = await session.execute(query.order_by(getattr(self.model, self.order_by)))
            return list(found.scalars())


list_domains = _All(ConnectedDomain, in_account(ConnectedDomain.account_id), "domain")
list_inboxes = _All(InboxConnection, of_user(InboxConnection.user_id), "id")


def _own_deliveries() -> Select[WebhookDelivery, datetime | None]:
    """Deliveries with their next attempt: the outbox row's due time while it is pending."""
    next_attempt = case(
        (OutboxMessage.state == OutboxState.PENDING, OutboxMessage.available_at), else_=None
    ).label("next_attempt_at")
    return (
        select(WebhookDelivery, next_attempt)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_id)
    )


async def webhook_deliveries(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[tuple[WebhookDelivery, datetime | None] | None]:
    query = _own_deliveries().where(WebhookDelivery.id.in_(ids), own_endpoints(viewer))
    async with sm() as session:
        rows = (await session.execute(query)).all()
    found = {delivery.id: (delivery, next_at) for delivery, next_at in rows}
    return [found.get(i) for i in ids]


RECENT_DELIVERIES = 20


async def recent_webhook_deliveries(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, endpoint_ids: Sequence[int]
) -> list[list[tuple[WebhookDelivery, datetime | None]]]:
    """The latest `RECENT_DELIVERIES` deliveries of each endpoint, newest first."""
    rank = (
        func.row_number()
        .over(partition_by=WebhookDelivery.endpoint_id, order_by=WebhookDelivery.id.desc())
        .label("rank")
    )
    ranked = (
        _own_deliveries()
        .add_columns(rank)
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids), own_endpoints(viewer))
        .subquery()
    )
    delivery = aliased(WebhookDelivery, ranked)
    query = (
        select(delivery, ranked.c.next_attempt_at)
        .where(ranked.c.rank <= RECENT_DELIVERIES)
        .order_by(delivery.id.desc())
    )
    by_endpoint: dict[int, list[tuple[WebhookDelivery, datetime | None]]] = {}
    async with sm() as session:
        for row, next_attempt in (await session.execute(query)).all():
            by_endpoint.setdefault(row.endpoint_id, []).append((row, next_attempt))
    return [by_endpoint.get(i, []) for i in endpoint_ids]


async def webhook_attempts(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, delivery_ids: Sequence[int]
) -> list[list[WebhookAttempt]]:
    """Every attempt of each delivery, oldest first (the delivery log)."""
    query = (
        select(WebhookAttempt)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids), own_endpoints(viewer))
        .order_by(WebhookAttempt.id)
    )
    by_delivery: dict[int, list[WebhookAttempt]] = {}
    async with sm() as session:
        for attempt in (await session.execute(query)).scalars():
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [by_delivery.get(i, []) for i in delivery_ids]
