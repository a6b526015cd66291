"""What deactivating a user does besides the flag (C50): their bookings stay, the admin is told
which future ones they had, and their push channels stop.

`slotgraph.usecases.users.set_user_active` sets `deactivated_at` (tokens, pages and syncs
read it, C23); this module adds the rest. Bookings are not cancelled: the contacts were
promised a meeting, and whether another host takes it over or the host's manager cancels it
is the admin's call, made from the list answered here. Push channels are stopped at the
provider (best effort, after commit) and their rows deleted, so their notifications are
refused; reactivation needs nothing here, since the next sync opens channels again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from slotgraph.calsync.watches import forget_watches
from slotgraph.calsync.watches import stop_all
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.providers.base import ProviderError
from slotgraph.usecases.users import set_user_active

if TYPE_CHECKING:
    from slotgraph.models import User
    from slotgraph.providers.base import Watch
    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

log = structlog.get_logger("slotgraph.users")

# The admin's list is for acting on; an account with more is told how many in the list's
# own length only up to here (the rest stay readable through the bookings' host).
MAX_LISTED_BOOKINGS = 500
_UPCOMING = (BookingStatus.CONFIRMED, BookingStatus.REQUESTED)


@dataclass(frozen=True, slots=True)
class Deactivated:
    user: User
    future_bookings: list[Booking]


async def deactivate_user(services: Services, viewer: Viewer | None, user_id: int) -> Deactivated:
    """deactivateUser (admins): the user, and their bookings still to come, soonest first."""
    user = await set_user_active(services, viewer, user_id, active=False)
    now = services.clock()
    stopped: list[tuple[CalendarConnection, list[Watch]]] = []
    async with services.sessionmaker.begin() as session:
        bookings = list(
            await session.scalars(
                select(Booking)
                .where(
                    Booking.host_user_id == user.id,
                    Booking.account_id == user.account_id,
                    Booking.status.in_(_UPCOMING),
                    Booking.ends_at > now,
                )
                .order_by(Booking.starts_at, Booking.id)
                .limit(MAX_LISTED_BOOKINGS)
            )
        )
        connections = await session.scalars(
            select(CalendarConnection).where(
                CalendarConnection.user_id == user.id,
                CalendarConnection.status != ConnectionStatus.DISCONNECTED,
            )
        )
        for connection in connections:
            watches = await forget_watches(session, connection.id)
            if watches:
                stopped.append((connection, watches))
    for connection, watches in stopped:
        await _stop_channels(services, connection, watches)
    return Deactivated(user=user, future_bookings=bookings)


async def _stop_channels(
    services: Services, connection: CalendarConnection, watches: list[Watch]
) -> None:
    try:
        client = await services.connection_clients.client(connection)
    except ProviderError as error:  # the channels lapse by themselves; nothing listens
        log.warning("no client to stop push channels", connection_id=connection.id, reason=error)
        return
    await stop_all(client, watches)
    log.info("push channels stopped: user deactivated", connection_id=connection.id)
