"""Which rows a viewer may see (C9, convention 3), and one row by id within that, or
`NotFoundError`.

A scope is a function from the viewer to a WHERE clause: `in_account(User.account_id)` for
account-wide objects, `of_user(SchedulingPage.user_id)` for a user's own, and the few with
more to them (`own_tasks`, `own_endpoints`). The batched reads behind the DataLoaders
(`slotgraph.usecases.reads`, None for what is out of scope) and the use cases that act on
one object by id (a `RowLookup` here, NotFound) take the same scopes, so what a viewer may
read and what they may change cannot drift apart.

Every mutation that acts on an object the caller names by id starts the same way: select
the row by id within its scope, usually lock it for the rest of the transaction, and answer
a foreign id exactly like a missing one. A `RowLookup` writes that once; a use case only
says which table, which scope, what else must hold ("not disconnected") and how the
missing object is named in the error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Generic
from typing import TypeAlias
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import select

from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models import Task
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.base import AccountRow
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.viewer import Viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute

RowT = TypeVar("RowT")
AccountRowT = TypeVar("AccountRowT", bound=AccountRow)

RowScope: TypeAlias = Callable[[Viewer], ColumnElement[bool]]
"""Which rows of a table a viewer may see, as a WHERE clause."""


def in_account(column: InstrumentedAttribute[int]) -> RowScope:
    """Rows of the viewer's account (account-wide objects: users, contacts, domains)."""
    return lambda viewer: column == viewer.account_id


def of_user(column: InstrumentedAttribute[int]) -> RowScope:
    """Rows of the viewer alone, through `column` (their pages, tokens, connections...)."""
    return lambda viewer: column == viewer.user_id


def own_tasks(viewer: Viewer) -> ColumnElement[bool]:
    """The viewer's tasks; deleted ones are gone at once though the row waits for its event
    to be removed (`slotgraph.usecases.tasks.delete_task`)."""
    return (Task.user_id == viewer.user_id) & Task.deleted_at.is_(None)


def own_endpoints(viewer: Viewer) -> ColumnElement[bool]:
    """Webhook endpoints are seen only by the user who registered them (C22, C38)."""
    return (WebhookEndpoint.account_id == viewer.account_id) & (
        WebhookEndpoint.user_id == viewer.user_id
    )


def own_calendars(viewer: Viewer) -> Select[RemoteCalendar]:
    """The viewer's remote calendars: a calendar is theirs through its connection."""
    return (
        select(RemoteCalendar)
        .join(CalendarConnection, CalendarConnection.id == RemoteCalendar.connection_id)
        .where(CalendarConnection.user_id == viewer.user_id)
    )


def own_deliveries(viewer: Viewer) -> Select[WebhookDelivery]:
    """The deliveries of the viewer's own webhook endpoints."""
    return (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(own_endpoints(viewer))
    )


async def one_or_not_found(
    session: AsyncSession, statement: Select[RowT], what: str, *, field: str | None = "id"
) -> RowT:
    """The one row `statement` selects, or NotFound naming `what` (for `field`).

    For lookups whose scope is reached through a join (a calendar through its connection, a
    delivery through its endpoint); plain tables use a `RowLookup`."""
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(what, field=field)
    return row


@dataclass(frozen=True, slots=True)
class RowLookup(Generic[AccountRowT]):
    """How use cases find one kind of row by id: the table, its scope, how a missing one is
    named, and what else must hold. One instance per kind, beside the use cases acting on it:

        _PAGES = RowLookup(SchedulingPage, of_user(SchedulingPage.user_id), "scheduling page")
        page = await _PAGES.one(session, viewer, page_id)

    Out of scope (another account's row, another user's private one) is NotFound like an
    unknown id (C9). `also` holds further conditions ("not disconnected")."""

    model: type[AccountRowT]
    scope: RowScope
    what: str
    also: tuple[ColumnElement[bool], ...] = ()
    field: str = "id"

    async def one(
        self,
        session: AsyncSession,
        viewer: Viewer,
        row_id: int,
        *,
        field: str | None = None,
        lock: bool = True,
    ) -> AccountRowT:
        """The row, locked (`SELECT ... FOR UPDATE`) unless `lock` is false, since the
        caller usually changes it; NotFound for `field` (the lookup's own unless given)."""
        statement: Select[AccountRowT] = select(self.model).where(
            self.model.id == row_id, self.scope(viewer), *self.also
        )
        if lock:
            statement = statement.with_for_update()
        return await one_or_not_found(session, statement, self.what, field=field or self.field)
