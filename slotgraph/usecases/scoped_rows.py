"""One row by id, inside the viewer's tenant scope, or `NotFoundError` (C9, convention 3).

Every mutation that acts on an object the caller names by id starts the same way: select
the row by id *and* by the viewer's account (and, for a user's own objects, the viewer's
user), usually lock it for the rest of the transaction, and answer a foreign id exactly like
a missing one. Written once here so the scope, the lock and the error cannot drift apart
between use cases; a use case only says which table, what else must hold (e.g. "not
disconnected", "not deleted") and how the missing object is named in the error.

Batched reads for DataLoaders live in `slotgraph.usecases.reads`; they answer None instead
of raising.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import ColumnElement, select

from slotgraph.models.base import AccountRow, UserRow
from slotgraph.usecases.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.viewer import Viewer

RowT = TypeVar("RowT")
AccountRowT = TypeVar("AccountRowT", bound=AccountRow)
UserRowT = TypeVar("UserRowT", bound=UserRow)


async def one_or_not_found(
    session: AsyncSession, statement: Select[RowT], what: str, *, field: str | None = "id"
) -> RowT:
    """The one row `statement` selects, or NotFound naming `what` (for `field`).

    For lookups whose scope is reached through a join (a calendar through its connection, a
    delivery through its endpoint); plain tables use `account_row` or `own_row`."""
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(what, field=field)
    return row


async def account_row(
    session: AsyncSession,
    model: type[AccountRowT],
    row_id: int,
    viewer: Viewer,
    *where: ColumnElement[bool],
    what: str,
    field: str | None = "id",
    lock: bool = True,
) -> AccountRowT:
    """A row of the viewer's account (users, domains, ...), `where` holding too; locked
    (`SELECT ... FOR UPDATE`) unless `lock` is false, since the caller usually changes it."""
    statement: Select[AccountRowT] = select(model).where(
        model.id == row_id, model.account_id == viewer.account_id, *where
    )
    if lock:
        statement = statement.with_for_update()
    return await one_or_not_found(session, statement, what, field=field)


async def own_row(
    session: AsyncSession,
    model: type[UserRowT],
    row_id: int,
    viewer: Viewer,
    *where: ColumnElement[bool],
    what: str,
    field: str | None = "id",
    lock: bool = True,
) -> UserRowT:
    """A row the viewer owns (pages, tokens, tasks, endpoints, ...): another user's, even in
    the same account, is NotFound like an unknown id (C9)."""
    mine: ColumnElement[bool] = model.user_id == viewer.user_id
    return await account_row(
        session, model, row_id, viewer, mine, *where, what=what, field=field, lock=lock
    )
