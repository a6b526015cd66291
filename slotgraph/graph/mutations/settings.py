"""updateCalendarSettings (S14, S15, S17, S18, S19, C8)."""

from __future__ import annotations

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import CalendarRequired
from slotgraph.graph.errors import DomainNotVerified
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import PlanFeatureRequired
from slotgraph.graph.errors import ProviderLimitation
from slotgraph.graph.errors import SeatRequired
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.inputs.settings import UpdateCalendarSettingsInput
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.settings import CalendarSettings
from slotgraph.usecases import settings as use_case


@strawberry.type
class UpdateCalendarSettingsSuccess:
    settings: CalendarSettings


@fails_with(
    ValidationError,
    NotFound,
    PermissionDenied,
    SeatRequired,
    CalendarRequired,
    PlanFeatureRequired,
    ProviderLimitation,
    DomainNotVerified,
)
async def update_calendar_settings(
    info: Info, input: UpdateCalendarSettingsInput
) -> UpdateCalendarSettingsSuccess:
    """Save the settings screen in one transaction: all of it, or none of it."""
    services = info.context.services
    row = await use_case.update_calendar_settings(services, info.context.viewer, input.to_changes())
    return UpdateCalendarSettingsSuccess(settings=CalendarSettings.from_row(row))
