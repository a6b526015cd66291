"""Input of updateCalendarSettings: everything the settings screen shows (C8)."""

from __future__ import annotations

from typing import Any

import strawberry

from slotgraph.graph.relay import require_pk
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.settings import MAX_AVAILABILITY_CALENDARS
from slotgraph.usecases.settings import MAX_CONNECTION_TOGGLES
from slotgraph.usecases.settings import ConnectionToggles
from slotgraph.usecases.settings import SettingsChanges


@strawberry.input(description="Per-connection toggles; omitted toggles keep their value.")
class ConnectionTogglesInput:
    connection_id: strawberry.ID
    calendar_sync_enabled: bool | None = None
    task_sync_enabled: bool | None = None
    scheduling_pages_enabled: bool | None = None


@strawberry.input(
    description="Omitted fields keep their value; null clears a nullable one. All or nothing."
)
class UpdateCalendarSettingsInput:
    meeting_url_prefix: str | None = strawberry.UNSET
    default_meeting_page_id: strawberry.ID | None = strawberry.UNSET
    meeting_domain_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Null: the app domain."
    )
    scheduling_pages_enabled: bool | None = strawberry.UNSET
    chat_link_enabled: bool | None = strawberry.UNSET
    chat_page_id: strawberry.ID | None = strawberry.UNSET
    availability_calendar_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The whole selection of RemoteCalendar ids (S12); replaces the old one.",
    )
    connections: list[ConnectionTogglesInput] | None = strawberry.UNSET
    bot_check_required: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Anonymous bookings of your pages need a bot check (C34).",
    )

    def to_changes(self) -> SettingsChanges:
        values: dict[str, Any] = {}
        for name, field in (
            ("meeting_url_prefix", "meetingUrlPrefix"),
            ("scheduling_pages_enabled", "schedulingPagesEnabled"),
            ("chat_link_enabled", "chatLinkEnabled"),
            ("bot_check_required", "botCheckRequired"),
        ):
            value = getattr(self, name)
            if value is None:
                raise InvalidInput("Omit the field instead of sending null.", field=field)
            if value is not strawberry.UNSET:
                values[name] = value
        if "scheduling_pages_enabled" in values:
            values["pages_enabled"] = values.pop("scheduling_pages_enabled")
        for name, key, type_name, kind, field in (
            (
                "default_meeting_page_id",
                "default_page_id",
                "SchedulingPage",
                "scheduling page",
                "defaultMeetingPageId",
            ),
            ("chat_page_id", "chat_page_id", "SchedulingPage", "scheduling page", "chatPageId"),
            (
                "meeting_domain_id",
                "meeting_domain_id",
                "ConnectedDomain",
                "connected domain",
                "meetingDomainId",
            ),
        ):
            value = getattr(self, name)
            if value is strawberry.UNSET:
                continue
            values[key] = (
                None if value is None else require_pk(value, type_name, field=field, kind=kind)
            )
        if self.availability_calendar_ids is not strawberry.UNSET:
            ids = self.availability_calendar_ids or []
            if len(ids) > MAX_AVAILABILITY_CALENDARS:
                raise InvalidInput(
                    f"At most {MAX_AVAILABILITY_CALENDARS} availability calendars.",
                    field="availabilityCalendarIds",
                )
            values["availability_calendar_ids"] = tuple(
                require_pk(i, "RemoteCalendar", field="availabilityCalendarIds", kind="calendar")
                for i in ids
            )
        if self.connections:
            if len(self.connections) > MAX_CONNECTION_TOGGLES:
                raise InvalidInput(
                    f"At most {MAX_CONNECTION_TOGGLES} connections per save.", field="connections"
                )
            values["connections"] = tuple(
                ConnectionToggles(
                    connection_id=require_pk(
                        toggle.connection_id,
                        "CalendarConnection",
                        field="connections.connectionId",
                        kind="calendar connection",
                    ),
                    calendar_sync_enabled=toggle.calendar_sync_enabled,
                    task_sync_enabled=toggle.task_sync_enabled,
                    scheduling_pages_enabled=toggle.scheduling_pages_enabled,
                )
                for toggle in self.connections
            )
        return SettingsChanges(**values)
