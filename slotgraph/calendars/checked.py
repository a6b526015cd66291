"""Which calendars availability checks (S12, C5, C45), written once for the use cases (slot
listing and booking read their busy time) and the workers (sync and push channels cover
them).

S12 and C45: on each connection, its primary calendar always, and every availability
calendar the user chose. C5: a connection with scheduling pages off is not used for
booking at all. A checked calendar whose access was lost stays checked: it stops booking
with the user (S13) until they remove it (the "X") or regain access, which the next
successful read of it notices (C27: `partition`'s `lost`).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute


def used_for_booking() -> ColumnElement[bool]:
    """C5: a connection books (its calendars are checked, S7's offline mode does not apply)
    while it is not disconnected and has scheduling pages on; a filter on
    `CalendarConnection` for queries of their own."""
    return (CalendarConnection.status != ConnectionStatus.DISCONNECTED) & (
        CalendarConnection.scheduling_pages_enabled.is_(True)
    )


def books(connection: CalendarConnection) -> bool:
    """`used_for_booking` for a connection already read."""
    return (
        connection.status is not ConnectionStatus.DISCONNECTED
        and connection.scheduling_pages_enabled
    )


def checked_for_availability(
    calendar: RemoteCalendar, connection: CalendarConnection, chosen: Set[int]
) -> bool:
    """C45: whether availability reads this calendar today: it is checked (`is_checked`)
    on a connection used for booking (C5). A lost calendar still counts: it stops booking
    (S13) until removed or regained."""
    return books(connection) and is_checked(calendar, chosen)


def is_checked(calendar: RemoteCalendar, chosen: Set[int]) -> bool:
    """S12, C45: the primary calendar always; another only when the user chose it as an
    availability calendar (`chosen`: the ids of their availability calendars)."""
    return calendar.is_primary or calendar.id in chosen


def _chosen(user_id: ColumnElement[int] | InstrumentedAttribute[int] | int) -> Select[int]:
    """The ids of the user's availability calendars, as a query."""
    return select(AvailabilityCalendar.remote_calendar_id).where(
        AvailabilityCalendar.user_id == user_id
    )


async def chosen_calendar_ids(session: AsyncSession, user_id: int) -> set[int]:
    """The ids of the user's availability calendars (`is_checked`'s `chosen`)."""
    return set((await session.execute(_chosen(user_id))).scalars())


def chosen_column(user_id: int) -> ColumnElement[bool]:
    """Whether the `RemoteCalendar` of the enclosing query is one of the user's
    availability calendars: `chosen_calendar_ids` read with the calendars themselves."""
    return RemoteCalendar.id.in_(_chosen(user_id))


def checked_clause(
    user_id: ColumnElement[int] | InstrumentedAttribute[int] | int,
) -> ColumnElement[bool]:
    """`is_checked` as a filter on `RemoteCalendar`, for one query that needs no list of
    chosen ids first (`user_id` may be a column of the same query)."""
    return RemoteCalendar.is_primary.is_(True) | RemoteCalendar.id.in_(_chosen(user_id))


async def _calendars(session: AsyncSession, connection_id: int) -> list[RemoteCalendar]:
    query = (
        select(RemoteCalendar)
        .where(RemoteCalendar.connection_id == connection_id)
        .order_by(RemoteCalendar.id)
    )
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True, slots=True)
class Partition:
    """A connection's calendars as sync sees them, each list in the given order."""

    checked: list[RemoteCalendar]  # checked and reachable: synced
    lost: list[RemoteCalendar]  # checked but ACCESS_LOST: read again (C27)
    others: list[RemoteCalendar]  # not checked (lost ones among them): nothing to sync


def partition(rows: Sequence[RemoteCalendar], chosen: Set[int]) -> Partition:
    """Split a connection's calendars (`rows`) by `is_checked` and their status."""
    checked = [row for row in rows if is_checked(row, chosen)]
    return Partition(
        checked=[row for row in checked if row.status is CalendarStatus.CONNECTED],
        lost=[row for row in checked if row.status is CalendarStatus.ACCESS_LOST],
        others=[
            row for row in rows if row not in checked or row.status is not CalendarStatus.CONNECTED
        ],
    )


async def booking_calendars(
    session: AsyncSession, user_id: int
) -> list[tuple[CalendarConnection, list[RemoteCalendar]]]:
    """C5: each of the user's connections used for booking (not disconnected, scheduling
    pages on), with its checked calendars, lost ones included (S13: they stop booking)."""
    connections = (
        await session.execute(
            select(CalendarConnection)
            .where(CalendarConnection.user_id == user_id, used_for_booking())
            .order_by(CalendarConnection.id)
        )
    ).scalars()
    chosen = await chosen_calendar_ids(session, user_id)
    return [
        (
            connection,
            [row for row in await _calendars(session, connection.id) if is_checked(row, chosen)],
        )
        for connection in list(connections)
    ]
