"""Calendar connections and the remote calendars they reach."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.calendars import checked
from slotgraph.calendars.sync_status import shown_sync_state
from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_many
from slotgraph.models import RemoteCalendar as CalendarRow
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import SyncState

if TYPE_CHECKING:
    from slotgraph.models import CalendarConnection as ConnectionRow

ProviderType = strawberry.enum(Provider, name="Provider")
ConnectionStatusType = strawberry.enum(
    ConnectionStatus,
    name="ConnectionStatus",
    description="Whether the grant works (C1), apart from the sync state. CONNECTED: it "
    "works. ACCESS_LOST: the provider refused it (revoked grant or password, C2); booking "
    "with the user stops (S13) until access returns (C27) or they reconnect. DISCONNECTED: "
    "the user disconnected it.",
)
SyncStateType = strawberry.enum(
    SyncState,
    name="SyncState",
    description="The busy-time sync (C1), read together with the status: IDLE: no sync has "
    "succeeded yet, or the connection is disconnected. SYNCING: a sync is running. SYNCED: "
    "the last sync succeeded, at `lastSyncedAt` (never null then). ERROR: the last sync "
    "failed or cannot run (always so while ACCESS_LOST); `lastError` says why.",
)
ConnectionPurposeType = strawberry.enum(ConnectionPurpose, name="ConnectionPurpose")
CalendarAccessType = strawberry.enum(CalendarAccess, name="CalendarAccess")
CalendarStatusType = strawberry.enum(
    CalendarStatus,
    name="CalendarStatus",
    description="One calendar's access (C2): ACCESS_LOST when it was deleted or unshared at "
    "the provider; its connection stays CONNECTED and keeps syncing the others. A checked "
    "calendar that lost access stops booking (S13) until it is removed or access returns.",
)


@strawberry.type(description="A calendar at the provider that the connection can reach.")
class RemoteCalendar(Node):
    pk: strawberry.Private[int]
    name: str
    time_zone: str
    access: CalendarAccessType  # type: ignore[valid-type]
    is_primary: bool
    can_see_all_details: bool = strawberry.field(
        description="Google: 'See all event details' access; needed for availability (S12)."
    )
    status: CalendarStatusType  # type: ignore[valid-type]
    color: str | None = strawberry.field(
        description="The colour the provider shows the calendar in (#RRGGBB or #RRGGBBAA), "
        "when it says (CalDAV's calendar-color)."
    )
    row: strawberry.Private[CalendarRow]
    is_task_calendar: bool = strawberry.field(
        description="The sub-calendar task sync writes tasks to (S10); never checked for "
        "free/busy and not offered as an availability calendar."
    )

    @strawberry.field(
        description="An extra calendar the user chose to check for free/busy (S12, C45); the "
        "primary is checked without being chosen, see `checkedForAvailability`."
    )
    async def is_availability_calendar(self, info: Info) -> bool:
        return self.pk in await info.context.loaders.availability_calendar_ids()

    @strawberry.field(
        description="Whether availability reads this calendar's busy time before times are "
        "offered (C45): the primary calendar always, and every chosen availability calendar, "
        "on a connection with scheduling pages on (C5). A checked calendar that lost access "
        "stops booking (S13)."
    )
    async def checked_for_availability(self, info: Info) -> bool:
        loaders = info.context.loaders
        connection = await loaders.connections.load(self.row.connection_id)
        if connection is None:
            return False
        chosen = await loaders.availability_calendar_ids()
        return checked.checked_for_availability(self.row, connection, chosen)

    @classmethod
    def from_row(cls, row: CalendarRow) -> RemoteCalendar:
        return from_columns(cls, row, row=row)


@strawberry.type(description="One grant to a calendar provider account (C1).")
class CalendarConnection(Node):
    pk: strawberry.Private[int]
    provider: ProviderType  # type: ignore[valid-type]
    account_email: str
    purpose: ConnectionPurposeType  # type: ignore[valid-type]
    status: ConnectionStatusType  # type: ignore[valid-type]
    sync_state: SyncStateType = strawberry.field(  # type: ignore[valid-type]
        description="The busy-time sync, shown consistently with `status` (C1): never SYNCED "
        "without `lastSyncedAt`, ERROR while ACCESS_LOST, IDLE once DISCONNECTED."
    )
    calendar_sync_enabled: bool
    task_sync_enabled: bool
    scheduling_pages_enabled: bool
    last_synced_at: dt.datetime | None = strawberry.field(
        description="When the last sync succeeded; null until one has."
    )
    last_error: str | None = strawberry.field(
        description="Why the last sync failed, or access was lost; null after a success."
    )
    events_synced: int = strawberry.field(
        description="Events held from the connection's synced calendars after the last sync."
    )
    skipped_items: int = strawberry.field(
        description="Calendar items the sync could not read and skipped (each is logged "
        "with its id), in total since the connection was made; the rest synced."
    )
    next_sync_at: dt.datetime | None = strawberry.field(
        description="When the next automatic sync is due; null while retries are parked "
        "(after repeated failures or lost access): run syncCalendarConnection."
    )
    created_at: dt.datetime

    @strawberry.field(description="The calendars the grant reaches, the primary among them.")
    async def remote_calendars(self, info: Info) -> list[RemoteCalendar]:
        loader = info.context.loaders.calendars_of_connection
        return await load_many(loader, self.pk, RemoteCalendar.from_row)

    @classmethod
    def from_row(cls, row: ConnectionRow) -> CalendarConnection:
        return from_columns(
            cls, row, sync_state=shown_sync_state(row.status, row.sync_state, row.last_synced_at)
        )
