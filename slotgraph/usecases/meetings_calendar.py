"""The user's pick of the calendar meetings are written to (`setMeetingsCalendar`, C28, C3).

C3 writes meetings to the primary calendar of the connection used for meetings
(`slotgraph.calendars.default_calendar`); for CalDAV the adapter proposes it at connect (the
server's `schedule-default-calendar-URL`, else the first writable calendar) and the user may
pick another writable one. The pick is that connection's `is_primary` flag, so every reader of
"primary" follows it at once: the outbox writes new bookings and tasks there (an existing
booking's event stays where it was written), and availability checks it as the primary
(S12, C45).

Decisions:
- Only CalDAV offers the pick: Google, Microsoft 365 and Exchange fix the primary calendar
  at the provider (ProviderLimitation).
- The pick is the user's from then on: syncs never write `is_primary`, and the server's
  default is read only when connecting, so a later change of the server's default does not
  move it (a future calendar-list refresh must keep `is_primary` as stored).
- The former primary stays checked for availability: it joins the availability calendars
  (while reachable), so no busy time silently drops out; the user may remove it (S12).
- No idempotency key: choosing the same calendar twice gives the same answer.
- When the availability calendars are already at their cap, the pick is refused (the former
  primary could not join them, and dropping it would lose its busy time without a word).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlalchemy import select

from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.usecases.connections import own_connection
from slotgraph.usecases.connections import publish_connection
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import ProviderLimitationError
from slotgraph.usecases.scoped_rows import one_or_not_found
from slotgraph.usecases.scoped_rows import own_calendars
from slotgraph.usecases.settings import MAX_AVAILABILITY_CALENDARS
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

FIELD = "calendarId"
_WRITABLE = (CalendarAccess.OWNER, CalendarAccess.WRITER)


async def set_meetings_calendar(
    services: Services, viewer: Viewer | None, calendar_id: int
) -> CalendarConnection:
    """Make one of the viewer's writable CalDAV calendars the primary of its connection; the
    connection, as it stands after the change (C9: another user's id is NotFound)."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    async with services.sessionmaker.begin() as session:
        calendar = await _own_calendar(session, viewer, calendar_id)
        connection = await own_connection(session, viewer, calendar.connection_id, field=FIELD)
        _check_choosable(calendar, connection)
        siblings = (
            await session.execute(
                select(RemoteCalendar).where(RemoteCalendar.connection_id == connection.id)
            )
        ).scalars()
        for row in siblings:
            if row.is_primary and row.id != calendar.id:
                row.is_primary = False
                await _keep_checked(session, viewer, row)
        calendar.is_primary = True
    await publish_connection(services, connection)
    return connection


async def _own_calendar(session: AsyncSession, viewer: Viewer, calendar_id: int) -> RemoteCalendar:
    return await one_or_not_found(
        session,
        own_calendars(viewer).where(
            RemoteCalendar.id == calendar_id,
            CalendarConnection.status != ConnectionStatus.DISCONNECTED,
        ),
        "calendar",
        field=FIELD,
    )


def _check_choosable(calendar: RemoteCalendar, connection: CalendarConnection) -> None:
    if connection.provider is not Provider.CALDAV:
        raise ProviderLimitationError(
            "Google, Microsoft 365 and Exchange fix the calendar meetings are written to "
            "(the account's primary calendar); only a CalDAV account's calendar can be picked.",
            field=FIELD,
        )
    if calendar.access not in _WRITABLE:
        raise InvalidInput(
            "This calendar is read-only for you; meetings need a calendar you can write to.",
            field=FIELD,
        )
    if calendar.is_task_calendar:
        raise InvalidInput("The task calendar cannot hold meetings.", field=FIELD)
    if calendar.status is not CalendarStatus.CONNECTED:
        raise InvalidInput(
            "Access to this calendar was lost at the server (C2); pick a reachable one.",
            field=FIELD,
        )


async def _keep_checked(session: AsyncSession, viewer: Viewer, former: RemoteCalendar) -> None:
    """The former primary becomes an availability calendar (while reachable, else it would
    stop booking, S13)."""
    if former.status is not CalendarStatus.CONNECTED or former.is_task_calendar:
        return
    chosen = await session.execute(
        select(AvailabilityCalendar.id).where(
            AvailabilityCalendar.user_id == viewer.user_id,
            AvailabilityCalendar.remote_calendar_id == former.id,
        )
    )
    if chosen.first() is None:
        await _check_room_for_one_more(session, viewer)
        session.add(
            AvailabilityCalendar(
                account_id=viewer.account_id, user_id=viewer.user_id, remote_calendar_id=former.id
            )
        )


async def _check_room_for_one_more(session: AsyncSession, viewer: Viewer) -> None:
    """The former primary would be one availability calendar too many: refuse the pick
    rather than stop checking it silently (the user removes one first)."""
    count = await session.scalar(
        select(func.count()).where(AvailabilityCalendar.user_id == viewer.user_id)
    )
    if (count or 0) >= MAX_AVAILABILITY_CALENDARS:
        raise InvalidInput(
            f"Your availability already checks {MAX_AVAILABILITY_CALENDARS} calendars, the "
            "most it can; the current meetings calendar would join them. Remove one from "
            "your availability calendars, then pick again.",
            field=FIELD,
        )
