"""The connection used for meetings and its default calendar (C3), written once for the use
cases (createMeeting, task sync's switch) and the outbox (booking and task events).

C3: the default calendar is the primary calendar of the connection used for meetings; a
user holds one such connection (purpose BOTH), except S6 legacy dual accounts, whose
meetings-settings connection is the one (their calendar-settings connection never is).
"Primary" and "default" name the same calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class ConnectedCalendar:
    """A stored remote calendar with the connection it is reached through."""

    connection: CalendarConnection
    calendar: RemoteCalendar


async def meetings_connection(session: AsyncSession, user_id: int) -> CalendarConnection | None:
    """C3: the user's connection used for meetings (the meetings-settings one for S6
    legacy dual accounts); None when they have none that is not disconnected."""
    return (
        await session.execute(
            select(CalendarConnection)
            .where(
                CalendarConnection.user_id == user_id,
                CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                CalendarConnection.purpose != ConnectionPurpose.CALENDAR_SETTINGS,
            )
            .order_by(
                (CalendarConnection.purpose == ConnectionPurpose.MEETINGS_SETTINGS).desc(),
                CalendarConnection.id,
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def default_calendar(session: AsyncSession, user_id: int) -> ConnectedCalendar | None:
    """C3: the primary calendar of the user's connection used for meetings, where booked
    meetings and task events are written (S12: never to the other availability calendars)."""
    connection = await meetings_connection(session, user_id)
    if connection is None:
        return None
    calendar = (
        await session.execute(
            select(RemoteCalendar)
            .where(
                RemoteCalendar.connection_id == connection.id,
                RemoteCalendar.is_primary.is_(True),
            )
            .order_by(RemoteCalendar.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if calendar is None else ConnectedCalendar(connection, calendar)
