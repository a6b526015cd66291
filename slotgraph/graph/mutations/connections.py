"""Connecting and disconnecting calendars (S1–S6), availability calendars (S12, C8) and
per-connection toggles (S9, S10, C5)."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import AutodiscoverFailed
from slotgraph.graph.errors import CalDavAuthFailed
from slotgraph.graph.errors import CalDavUnreachable
from slotgraph.graph.errors import CalendarRequired
from slotgraph.graph.errors import ConnectionLimitReached
from slotgraph.graph.errors import ExchangeAuthFailed
from slotgraph.graph.errors import ExchangeUnreachable
from slotgraph.graph.errors import ExchangeVersionUnsupported
from slotgraph.graph.errors import NotACalDavServer
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import PermissionRequired
from slotgraph.graph.errors import ProviderLimitation
from slotgraph.graph.errors import ProviderUnavailable
from slotgraph.graph.errors import SeatRequired
from slotgraph.graph.errors import SharedInboxNotAllowed
from slotgraph.graph.errors import TlsCertificateUntrusted
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.inputs.connections import ConnectCalDavCalendarInput
from slotgraph.graph.inputs.connections import ConnectExchangeCalendarInput
from slotgraph.graph.inputs.connections import DisconnectCalendarInput
from slotgraph.graph.inputs.connections import DisconnectInboxInput
from slotgraph.graph.inputs.connections import SetAvailabilityCalendarsInput
from slotgraph.graph.inputs.connections import SetMeetingsCalendarInput
from slotgraph.graph.inputs.connections import StartCalendarConnectionInput
from slotgraph.graph.inputs.connections import SyncCalendarConnectionInput
from slotgraph.graph.inputs.connections import UpdateCalendarConnectionInput
from slotgraph.graph.inputs.settings import UpdateCalendarSettingsInput
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.accounts import InboxConnection
from slotgraph.graph.types.connections import CalendarConnection
from slotgraph.graph.types.connections import ProviderType
from slotgraph.graph.types.settings import CalendarSettings
from slotgraph.models import CalendarSettings as SettingsRow
from slotgraph.models.enums import Provider
from slotgraph.usecases import connections as use_case
from slotgraph.usecases import meetings_calendar
from slotgraph.usecases import reads
from slotgraph.usecases import settings as settings_case
from slotgraph.usecases import sync as sync_case
from slotgraph.usecases.errors import DomainError
from slotgraph.usecases.errors import renamed


@strawberry.type
class StartCalendarConnectionSuccess:
    provider: ProviderType  # type: ignore[valid-type]
    authorization_url: str = strawberry.field(
        description="Send the user here; the provider redirects back to Slotgraph, which "
        "finishes the connection and redirects to the dashboard."
    )


@strawberry.type
class ConnectExchangeCalendarSuccess:
    connection: CalendarConnection


@strawberry.type
class ConnectCalDavCalendarSuccess:
    connection: CalendarConnection


@strawberry.type
class DisconnectCalendarSuccess:
    connection: CalendarConnection


@strawberry.type
class DisconnectInboxSuccess:
    inbox: InboxConnection


@strawberry.type
class SetAvailabilityCalendarsSuccess:
    settings: CalendarSettings


@strawberry.type
class SetMeetingsCalendarSuccess:
    connection: CalendarConnection = strawberry.field(
        description="The chosen calendar's connection: it is now the one `isPrimary`."
    )


@strawberry.type
class UpdateCalendarConnectionSuccess:
    connection: CalendarConnection


@strawberry.type
class SyncCalendarConnectionSuccess:
    connection: CalendarConnection = strawberry.field(
        description="As it stands now: the sync state is unchanged until a sync worker "
        "claims the connection (then SYNCING); `nextSyncAt` is now."
    )


# What every way of connecting a calendar can meet (S3, S4, S6), after the provider's own.
_CONNECT_ERRORS = (
    PermissionRequired
    | SharedInboxNotAllowed
    | ConnectionLimitReached
    | PermissionDenied
    | ValidationError
    | ProviderUnavailable
)


def _connection_pk(global_id: str) -> int:
    return require_pk(
        global_id, "CalendarConnection", field="connectionId", kind="connected calendar"
    )


@fails_with(_CONNECT_ERRORS)
async def start_calendar_connection(
    info: Info, input: StartCalendarConnectionInput
) -> StartCalendarConnectionSuccess:
    """S1: the consent URL for Google or Microsoft 365 (authorization code + PKCE + state)."""
    provider = Provider(input.provider.value)
    url = await use_case.start_oauth(info.context.services, info.context.viewer, provider)
    return StartCalendarConnectionSuccess(provider=provider, authorization_url=url)


@fails_with(
    ExchangeAuthFailed,
    ExchangeVersionUnsupported,
    ExchangeUnreachable,
    TlsCertificateUntrusted,
    AutodiscoverFailed,
    _CONNECT_ERRORS,
)
async def connect_exchange_calendar(
    info: Info, input: ConnectExchangeCalendarInput
) -> ConnectExchangeCalendarSuccess:
    """S2: connect an Exchange 2010 SP2+ mailbox over EWS."""
    row = await use_case.connect_exchange(info.context.services, info.context.viewer, input.login())
    return ConnectExchangeCalendarSuccess(connection=CalendarConnection.from_row(row))


@fails_with(
    CalDavAuthFailed, NotACalDavServer, CalDavUnreachable, TlsCertificateUntrusted, _CONNECT_ERRORS
)
async def connect_cal_dav_calendar(
    info: Info, input: ConnectCalDavCalendarInput
) -> ConnectCalDavCalendarSuccess:
    """C28: connect a CalDAV account by server URL or by the email's domain."""
    row = await use_case.connect_caldav(info.context.services, info.context.viewer, input.login())
    return ConnectCalDavCalendarSuccess(connection=CalendarConnection.from_row(row))


@fails_with(NotFound, PermissionDenied, ValidationError)
async def disconnect_calendar(
    info: Info, input: DisconnectCalendarInput
) -> DisconnectCalendarSuccess:
    """Disconnect; credentials are deleted and the grant revoked. The inbox stays (S5)."""
    pk = _connection_pk(input.connection_id)
    row = await use_case.disconnect(info.context.services, info.context.viewer, pk)
    return DisconnectCalendarSuccess(connection=CalendarConnection.from_row(row))


@fails_with(NotFound, PermissionDenied, ValidationError)
async def sync_calendar_connection(
    info: Info, input: SyncCalendarConnectionInput
) -> SyncCalendarConnectionSuccess:
    """Sync now (also after retries were parked); a worker picks it up."""
    pk = _connection_pk(input.connection_id)
    row = await sync_case.sync_calendar_connection(info.context.services, info.context.viewer, pk)
    return SyncCalendarConnectionSuccess(connection=CalendarConnection.from_row(row))


@fails_with(NotFound, PermissionDenied, ValidationError)
async def disconnect_inbox(info: Info, input: DisconnectInboxInput) -> DisconnectInboxSuccess:
    """S5: disconnect the inbox only; the calendar keeps working."""
    pk = require_pk(input.inbox_id, "InboxConnection", field="inboxId", kind="inbox connection")
    row = await use_case.disconnect_inbox(info.context.services, info.context.viewer, pk)
    return DisconnectInboxSuccess(inbox=InboxConnection.from_row(row))


@fails_with(ValidationError, NotFound, PermissionDenied, CalendarRequired)
async def set_availability_calendars(
    info: Info, input: SetAvailabilityCalendarsInput
) -> SetAvailabilityCalendarsSuccess:
    """S12/C8: replace the availability calendars (an empty list removes all: S13's "X")."""

    row = await _save(
        info,
        UpdateCalendarSettingsInput(availability_calendar_ids=input.calendar_ids),
        {"availabilityCalendarIds": "calendarIds"},
    )
    return SetAvailabilityCalendarsSuccess(settings=CalendarSettings.from_row(row))


@fails_with(NotFound, PermissionDenied, ValidationError, ProviderLimitation)
async def set_meetings_calendar(
    info: Info, input: SetMeetingsCalendarInput
) -> SetMeetingsCalendarSuccess:
    """C3, C28: pick which writable CalDAV calendar meetings are written to (and checked as
    the primary); Google, Microsoft 365 and Exchange fix theirs (ProviderLimitation)."""
    pk = require_pk(input.calendar_id, "RemoteCalendar", field="calendarId", kind="calendar")
    row = await meetings_calendar.set_meetings_calendar(
        info.context.services, info.context.viewer, pk
    )
    return SetMeetingsCalendarSuccess(connection=CalendarConnection.from_row(row))


@fails_with(ValidationError, NotFound, PermissionDenied, SeatRequired, ProviderLimitation)
async def update_calendar_connection(
    info: Info, input: UpdateCalendarConnectionInput
) -> UpdateCalendarConnectionSuccess:
    """Per-connection toggles: calendar sync (S9), task sync (S10), scheduling pages (C5)."""
    context = info.context
    await _save(info, UpdateCalendarSettingsInput(connections=[input]), {"connections.": ""})
    assert context.viewer is not None
    pk = require_pk(
        input.connection_id,
        "CalendarConnection",
        field="connectionId",
        kind="calendar connection",
    )
    [row] = await reads.connections(context.sessionmaker, context.viewer, [pk])
    assert row is not None
    return UpdateCalendarConnectionSuccess(connection=CalendarConnection.from_row(row))


async def _save(
    info: Info, settings_input: UpdateCalendarSettingsInput, names: Mapping[str, str]
) -> SettingsRow:
    """Partner-app mutations are slices of the settings save, each atomic too (C8); an
    error names the field as the slice's input does (`names`: settings name to ours)."""
    try:
        return await settings_case.update_calendar_settings(
            info.context.services, info.context.viewer, settings_input.to_changes()
        )
    except DomainError as exc:
        raise renamed(exc, names) from None
