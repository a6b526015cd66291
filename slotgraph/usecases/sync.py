"""On-demand sync of a calendar connection (`syncCalendarConnection`).

The use case makes the connection due now (and un-parks it after failures) and enqueues its
sync job in the same transaction, so a worker starts it at once; the answer shows the state
at the time of asking: unchanged (IDLE, SYNCED or ERROR) until a worker claims it, then
SYNCING.
Clients follow the change through the connection's sync fields (or the `syncStatus`
subscription).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.calsync.engine import request_sync
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Scope
from slotgraph.usecases.connections import own_connection
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from slotgraph.models import CalendarConnection
    from slotgraph.usecases.services import Services


async def sync_calendar_connection(
    services: Services, viewer: Viewer | None, connection_id: int
) -> CalendarConnection:
    """Ask for a sync of one of the viewer's connections now (C9: a foreign id is NotFound)."""
    viewer = require_viewer(viewer, Scope.CONNECTIONS_WRITE)
    async with services.sessionmaker.begin() as session:
        connection = await own_connection(session, viewer, connection_id, field="connectionId")
        if connection.status is ConnectionStatus.ACCESS_LOST:
            raise InvalidInput(
                "Access to this calendar was lost, so it cannot sync; reconnect it first.",
                field="connectionId",
            )
        await request_sync(session, connection.id, services.clock())
        await session.refresh(connection)
    return connection
