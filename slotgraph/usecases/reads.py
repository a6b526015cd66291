"""Batched, tenant-scoped reads behind the GraphQL DataLoaders and `node(id:)`.

Each function takes many ids and answers in one query, in the order asked, with None for
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
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from slotgraph.models import (
    ApiToken,
    AvailabilityCalendar,
    Booking,
    CalendarConnection,
    CalendarSettings,
    ConnectedDomain,
    Contact,
    InboxConnection,
    OutboxMessage,
    RemoteCalendar,
    SchedulingPage,
    Task,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxState
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.pages import MAX_PAGE_SIZE, base_url
from slotgraph.usecases.verified_domains import verified_domain
from slotgraph.usecases.viewer import Viewer

Row = TypeVar("Row")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Slice(Generic[T]):
    """One page of a keyset-paginated list."""

    items: list[T]
    has_next_page: bool


def _ordered(rows: Sequence[Any], ids: Sequence[int], key: str = "id") -> list[Any]:
    by_id = {getattr(row, key): row for row in rows}
    return [by_id.get(i) for i in ids]


async def _by_ids(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: type[Row],
    ids: Sequence[int],
    scope: ColumnElement[bool],
    key: str = "id",
) -> list[Row | None]:
    column = getattr(model, key)
    async with sessionmaker() as session:
        rows = (await session.execute(select(model).where(column.in_(ids), scope))).scalars().all()
    return _ordered(rows, ids, key)


async def users(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[User | None]:
    return await _by_ids(sm, User, ids, User.account_id == viewer.account_id)


async def api_tokens(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[ApiToken | None]:
    """The viewer's own tokens only: even an admin sees no one else's (C23)."""
    return await _by_ids(sm, ApiToken, ids, ApiToken.user_id == viewer.user_id)


async def contacts(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[Contact | None]:
    return await _by_ids(sm, Contact, ids, Contact.account_id == viewer.account_id)


async def domains(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[ConnectedDomain | None]:
    return await _by_ids(sm, ConnectedDomain, ids, ConnectedDomain.account_id == viewer.account_id)


async def settings(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, user_ids: Sequence[int]
) -> list[CalendarSettings | None]:
    return await _by_ids(
        sm, CalendarSettings, user_ids, CalendarSettings.user_id == viewer.user_id, key="user_id"
    )


async def pages(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[SchedulingPage | None]:
    return await _by_ids(sm, SchedulingPage, ids, SchedulingPage.user_id == viewer.user_id)


async def connections(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[CalendarConnection | None]:
    return await _by_ids(sm, CalendarConnection, ids, CalendarConnection.user_id == viewer.user_id)


async def inboxes(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[InboxConnection | None]:
    return await _by_ids(sm, InboxConnection, ids, InboxConnection.user_id == viewer.user_id)


async def bookings(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[Booking | None]:
    return await _by_ids(sm, Booking, ids, Booking.host_user_id == viewer.user_id)


def _own_calendars(viewer: Viewer) -> Select[RemoteCalendar]:
    """The viewer's remote calendars: a calendar is theirs through its connection."""
    return (
        select(RemoteCalendar)
        .join(CalendarConnection, CalendarConnection.id == RemoteCalendar.connection_id)
        .where(CalendarConnection.user_id == viewer.user_id)
    )


async def remote_calendars(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[RemoteCalendar | None]:
    async with sm() as session:
        found = await session.execute(_own_calendars(viewer).where(RemoteCalendar.id.in_(ids)))
        rows = found.scalars().all()
    return _ordered(rows, ids)


async def remote_calendars_of_connections(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, connection_ids: Sequence[int]
) -> list[list[RemoteCalendar]]:
    async with sm() as session:
        found = await session.execute(
            _own_calendars(viewer)
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


async def _keyset(
    sm: async_sessionmaker[AsyncSession],
    viewer: Viewer,
    model: type[Row],
    scope: ColumnElement[bool],
    first: int,
    after: int | None,
) -> Slice[Row]:
    viewer.require(Scope.READ)
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"`first` must be 0 to {MAX_PAGE_SIZE}.", field="first")
    id_column = model.id  # type: ignore[attr-defined]
    query = select(model).where(scope)
    if after is not None:
        query = query.where(id_column > after)
    async with sm() as session:
        rows = list((await session.execute(query.order_by(id_column).limit(first + 1))).scalars())
    return Slice(items=rows[:first], has_next_page=len(rows) > first)


async def list_connections(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[CalendarConnection]:
    return await _keyset(
        sm, viewer, CalendarConnection, CalendarConnection.user_id == viewer.user_id, first, after
    )


async def list_account_users(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[User]:
    """Every user of the viewer's account, deactivated ones too (admins list them, C23)."""
    return await _keyset(sm, viewer, User, User.account_id == viewer.account_id, first, after)


async def list_api_tokens(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[ApiToken]:
    """The viewer's tokens that are not revoked (expired ones stay listed, marked so)."""
    scope = (ApiToken.user_id == viewer.user_id) & ApiToken.revoked_at.is_(None)
    return await _keyset(sm, viewer, ApiToken, scope, first, after)


async def list_bookings(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[Booking]:
    return await _keyset(sm, viewer, Booking, Booking.host_user_id == viewer.user_id, first, after)


def _own_tasks(viewer: Viewer) -> ColumnElement[bool]:
    """The viewer's tasks; deleted ones are gone at once though the row waits for its event
    to be removed (`slotgraph.usecases.tasks.delete_task`)."""
    return (Task.user_id == viewer.user_id) & Task.deleted_at.is_(None)


async def tasks(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[Task | None]:
    return await _by_ids(sm, Task, ids, _own_tasks(viewer))


async def list_tasks(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[Task]:
    return await _keyset(sm, viewer, Task, _own_tasks(viewer), first, after)


async def list_pages(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[SchedulingPage]:
    return await _keyset(
        sm, viewer, SchedulingPage, SchedulingPage.user_id == viewer.user_id, first, after
    )


async def list_domains(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer
) -> list[ConnectedDomain]:
    viewer.require(Scope.READ)
    async with sm() as session:
        return list(
            (
                await session.execute(
                    select(ConnectedDomain)
                    .where(ConnectedDomain.account_id == viewer.account_id)
                    .order_by(ConnectedDomain.domain)
                )
            ).scalars()
        )


async def list_inboxes(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer
) -> list[InboxConnection]:
    viewer.require(Scope.READ)
    async with sm() as session:
        return list(
            (
                await session.execute(
                    select(InboxConnection)
                    .where(InboxConnection.user_id == viewer.user_id)
                    .order_by(InboxConnection.id)
                )
            ).scalars()
        )


def _own_endpoints(viewer: Viewer) -> ColumnElement[bool]:
    """Webhook endpoints are seen only by the user who registered them (C22, C38)."""
    return (WebhookEndpoint.account_id == viewer.account_id) & (
        WebhookEndpoint.user_id == viewer.user_id
    )


async def webhook_endpoints(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, ids: Sequence[int]
) -> list[WebhookEndpoint | None]:
    return await _by_ids(sm, WebhookEndpoint, ids, _own_endpoints(viewer))


async def list_webhook_endpoints(
    sm: async_sessionmaker[AsyncSession], viewer: Viewer, first: int, after: int | None
) -> Slice[WebhookEndpoint]:
    return await _keyset(sm, viewer, WebhookEndpoint, _own_endpoints(viewer), first, after)


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
    query = _own_deliveries().where(WebhookDelivery.id.in_(ids), _own_endpoints(viewer))
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
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids), _own_endpoints(viewer))
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
        .where(WebhookAttempt.delivery_id.in_(delivery_ids), _own_endpoints(viewer))
        .order_by(WebhookAttempt.id)
    )
    by_delivery: dict[int, list[WebhookAttempt]] = {}
    async with sm() as session:
        for attempt in (await session.execute(query)).scalars():
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [by_delivery.get(i, []) for i in delivery_ids]
