"""Calendar settings: read, and save everything the settings screen shows in one
transaction (S19, C8): URL prefix and default link (S14, C7), meeting domain (S15, C6),
pages on/off (S17), chat link (S18), availability calendars (S12, C5) and per-connection
toggles (S9, S10, C5, C11).

Every change is validated inside the transaction that applies it; the first broken rule
raises and the rollback leaves every field as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy import select

from slotgraph.jobs.task_events import can_sync_tasks as can_sync_tasks
from slotgraph.models import Account
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSettings
from slotgraph.models import ConnectedDomain
from slotgraph.models import RemoteCalendar
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.notices.changes import publish_connection_changed
from slotgraph.notices.changes import publish_host_changed
from slotgraph.scheduling import slugs
from slotgraph.usecases import tasks
from slotgraph.usecases.errors import CalendarRequiredError
from slotgraph.usecases.errors import DomainNotVerifiedError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.errors import PlanFeatureRequiredError
from slotgraph.usecases.errors import ProviderLimitationError
from slotgraph.usecases.errors import SeatRequiredError
from slotgraph.usecases.values import KEEP
from slotgraph.usecases.values import Keep
from slotgraph.usecases.verified_domains import is_verified_domain
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

MAX_AVAILABILITY_CALENDARS = 50
MAX_CONNECTION_TOGGLES = 20

PAID_SEATS = frozenset({Seat.SALES, Seat.SERVICE})
URL_TIERS = frozenset({Tier.STARTER, Tier.PROFESSIONAL, Tier.ENTERPRISE})


@dataclass(frozen=True, slots=True)
class ConnectionToggles:
    connection_id: int
    calendar_sync_enabled: bool | None = None
    task_sync_enabled: bool | None = None
    scheduling_pages_enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """What the caller sent; KEEP leaves a field as it is, None clears a nullable one."""

    meeting_url_prefix: str | Keep = KEEP
    default_page_id: int | None | Keep = KEEP
    meeting_domain_id: int | None | Keep = KEEP
    pages_enabled: bool | Keep = KEEP
    chat_link_enabled: bool | Keep = KEEP
    chat_page_id: int | None | Keep = KEEP
    availability_calendar_ids: tuple[int, ...] | Keep = KEEP
    connections: tuple[ConnectionToggles, ...] = ()
    bot_check_required: bool | Keep = KEEP


def can_customize_url(user: User) -> bool:
    """S14/C7: a Sales or Service seat at Starter, Professional or Enterprise."""
    return user.seat in PAID_SEATS and user.tier in URL_TIERS


async def get_settings(services: Services, viewer: Viewer) -> CalendarSettings:
    viewer.require(Scope.READ)
    async with services.sessionmaker() as session:
        return await _settings_row(session, viewer, lock=False)


async def _settings_row(session: AsyncSession, viewer: Viewer, *, lock: bool) -> CalendarSettings:
    query = select(CalendarSettings).where(CalendarSettings.user_id == viewer.user_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one()


async def _has_connected_calendar(session: AsyncSession, viewer: Viewer) -> bool:
    found = await session.execute(
        select(CalendarConnection.id)
        .where(
            CalendarConnection.user_id == viewer.user_id,
            CalendarConnection.status != ConnectionStatus.DISCONNECTED,
        )
        .limit(1)
    )
    return found.scalar_one_or_none() is not None


async def _own_page_id(session: AsyncSession, viewer: Viewer, page_id: int, field: str) -> int:
    found = await session.execute(
        select(SchedulingPage.id).where(
            SchedulingPage.id == page_id, SchedulingPage.user_id == viewer.user_id
        )
    )
    if found.scalar_one_or_none() is None:
        raise NotFoundError("scheduling page", field=field)
    return page_id


def _needs_calendar_and_seat(changes: SettingsChanges) -> tuple[list[str], list[str]]:
    """Fields sent that need a connected calendar (C6) and that need a paid seat (C7)."""
    calendar_fields = []
    seat_fields = []
    if changes.meeting_url_prefix is not KEEP:
        calendar_fields.append("meetingUrlPrefix")
        seat_fields.append("meetingUrlPrefix")
    if changes.default_page_id is not KEEP:
        calendar_fields.append("defaultMeetingPageId")
        seat_fields.append("defaultMeetingPageId")
    if changes.meeting_domain_id is not KEEP:
        calendar_fields.append("meetingDomainId")
    if changes.chat_link_enabled is not KEEP:
        calendar_fields.append("chatLinkEnabled")
    if changes.chat_page_id is not KEEP:
        calendar_fields.append("chatPageId")
    if changes.availability_calendar_ids is not KEEP:
        calendar_fields.append("availabilityCalendarIds")
    return calendar_fields, seat_fields


async def update_calendar_settings(
    services: Services, viewer: Viewer | None, changes: SettingsChanges
) -> CalendarSettings:
    """Save in one transaction (C8); after commit, toggled connections and the user's
    pages are announced to subscribers (toggles, availability calendars and S17 change
    free slots)."""
    viewer = require_viewer(viewer, Scope.SETTINGS_WRITE)
    if (
        changes.availability_calendar_ids is not KEEP
        and len(changes.availability_calendar_ids) > MAX_AVAILABILITY_CALENDARS
    ):
        raise InvalidInput(
            f"At most {MAX_AVAILABILITY_CALENDARS} availability calendars.",
            field="availabilityCalendarIds",
        )
    if len(changes.connections) > MAX_CONNECTION_TOGGLES:
        raise InvalidInput(
            f"At most {MAX_CONNECTION_TOGGLES} connections per save.", field="connections"
        )
    async with services.sessionmaker.begin() as session:
        settings = await _settings_row(session, viewer, lock=True)
        user = await session.get_one(User, viewer.user_id)
        calendar_fields, seat_fields = _needs_calendar_and_seat(changes)
        if calendar_fields and not await _has_connected_calendar(session, viewer):
            raise CalendarRequiredError(
                "Connect a calendar first: this setting is managed once a calendar is "
                "connected (use startCalendarConnection or connectExchangeCalendar).",
                field=calendar_fields[0],
            )
        if seat_fields and not can_customize_url(user):
            raise SeatRequiredError(
                "Changing the meeting URL or default meeting link needs a Sales or Service "
                "seat at Starter, Professional or Enterprise; ask an admin to assign one.",
                field=seat_fields[0],
            )
        await _apply_link_settings(session, viewer, settings, changes)
        if changes.bot_check_required is not KEEP:  # C34
            settings.bot_check_required = check_bot_check_offered(
                services, changes.bot_check_required
            )
        await _apply_connection_toggles(session, viewer, user, changes.connections)
        if changes.availability_calendar_ids is not KEEP:
            await _replace_availability_calendars(
                session, viewer, changes.availability_calendar_ids
            )
        await session.flush()
        await session.refresh(settings)
    for toggle in changes.connections:
        await publish_connection_changed(services.pubsub, toggle.connection_id)
    await publish_host_changed(services.pubsub, services.sessionmaker, viewer.user_id)
    return settings


def check_bot_check_offered(services: Services, required: bool) -> bool:
    """C34: a host may ask for a bot check only when the operator configured a verifier."""
    if required and services.limits.bot_check is None:
        raise InvalidInput(
            "This server has no bot-check verifier configured; ask its operator to set "
            "SLOTGRAPH_BOT_CHECK_VERIFIER and its keys.",
            field="botCheckRequired",
        )
    return required


async def _apply_link_settings(
    session: AsyncSession, viewer: Viewer, settings: CalendarSettings, changes: SettingsChanges
) -> None:
    if changes.meeting_url_prefix is not KEEP:
        try:
            settings.meeting_url_prefix = slugs.validate_segment(changes.meeting_url_prefix)
        except slugs.InvalidSlug as exc:
            raise InvalidInput(f"The meeting URL prefix {exc}.", field="meetingUrlPrefix") from None
    if changes.default_page_id is not KEEP:
        settings.default_page_id = (
            None
            if changes.default_page_id is None
            else await _own_page_id(
                session, viewer, changes.default_page_id, "defaultMeetingPageId"
            )
        )
    if changes.meeting_domain_id is not KEEP:
        settings.meeting_domain_id = await _meeting_domain(
            session, viewer, changes.meeting_domain_id
        )
    if changes.pages_enabled is not KEEP:
        settings.pages_enabled = changes.pages_enabled
    if changes.chat_page_id is not KEEP:
        settings.chat_page_id = (
            None
            if changes.chat_page_id is None
            else await _own_page_id(session, viewer, changes.chat_page_id, "chatPageId")
        )
    if changes.chat_link_enabled is not KEEP:
        settings.chat_link_enabled = changes.chat_link_enabled
    if settings.chat_link_enabled and settings.chat_page_id is None:
        raise InvalidInput(
            "Choose which scheduling page the chat link opens (chatPageId) to turn it on.",
            field="chatPageId",
        )


async def _meeting_domain(
    session: AsyncSession, viewer: Viewer, domain_id: int | None
) -> int | None:
    """S15/C6: null is the app domain; otherwise a domain connected in this account's domain
    manager, and only when the account's plan includes custom domains."""
    if domain_id is None:
        return None
    account = await session.get_one(Account, viewer.account_id)
    if not account.custom_domains_enabled:
        raise PlanFeatureRequiredError(
            "Custom meeting domains are not part of this account's plan; keep the app "
            "domain (meetingDomainId: null) or upgrade the plan.",
            field="meetingDomainId",
        )
    found = await session.execute(
        select(ConnectedDomain).where(
            ConnectedDomain.id == domain_id, ConnectedDomain.account_id == viewer.account_id
        )
    )
    domain = found.scalar_one_or_none()
    if domain is not None and not is_verified_domain(domain):
        raise DomainNotVerifiedError(
            f"{domain.domain} is not verified yet; only proven domains can host meeting "
            "pages (C40). Publish its verification record and run verifyConnectedDomain.",
            field="meetingDomainId",
        )
    if domain is None:
        raise NotFoundError(
            "connected domain",
            field="meetingDomainId",
            message="Only domains connected in the domain manager can host meeting pages; "
            "pick one from `viewer.connectedDomains`.",
        )
    return domain_id


async def _apply_connection_toggles(
    session: AsyncSession, viewer: Viewer, user: User, toggles: tuple[ConnectionToggles, ...]
) -> None:
    for toggle in toggles:
        connection = (
            await session.execute(
                select(CalendarConnection)
                .where(
                    CalendarConnection.id == toggle.connection_id,
                    CalendarConnection.user_id == viewer.user_id,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if connection is None:
            raise NotFoundError("calendar connection", field="connections.connectionId")
        if connection.status is ConnectionStatus.DISCONNECTED:
            raise InvalidInput(
                f"{connection.account_email} was disconnected; connect the calendar again to "
                "change its settings.",
                field="connections.connectionId",
            )
        task_sync_was = connection.task_sync_enabled
        if toggle.calendar_sync_enabled is not None:
            connection.calendar_sync_enabled = toggle.calendar_sync_enabled
        if toggle.scheduling_pages_enabled is not None:
            connection.scheduling_pages_enabled = toggle.scheduling_pages_enabled
        if toggle.task_sync_enabled is not None:
            connection.task_sync_enabled = toggle.task_sync_enabled
        if connection.task_sync_enabled and toggle.task_sync_enabled:
            _check_task_sync(connection, user)
        if connection.task_sync_enabled and not connection.calendar_sync_enabled:
            if toggle.task_sync_enabled:
                raise InvalidInput(
                    "Task sync needs calendar sync on for this connection; turn both on.",
                    field="connections.taskSyncEnabled",
                )
            # Turning calendar sync off takes task sync with it (S10: task sync rides on it).
            connection.task_sync_enabled = False
        if connection.task_sync_enabled != task_sync_was:
            # S10: on backfills open tasks with due dates; off removes the task events.
            await session.flush()
            await tasks.task_sync_toggled(session, viewer.user_id)


def _check_task_sync(connection: CalendarConnection, user: User) -> None:
    if connection.provider in (Provider.EXCHANGE, Provider.CALDAV):  # C11, C44
        raise ProviderLimitationError(
            "Task sync is offered for Google and Microsoft 365 calendars only.",
            field="connections.taskSyncEnabled",
        )
    if not can_sync_tasks(user):
        raise SeatRequiredError(
            "Task sync needs a Sales or Service seat at Professional or Enterprise; ask an "
            "admin to assign one.",
            field="connections.taskSyncEnabled",
        )


async def _replace_availability_calendars(
    session: AsyncSession, viewer: Viewer, remote_ids: tuple[int, ...]
) -> None:
    """Make the selection exactly `remote_ids`. Newly added calendars must be reachable and
    show full details (S12) through a connection with scheduling pages on (C5); calendars
    already selected may stay even if access was lost, since removing them is the fix (C2)."""
    wanted = set(remote_ids)
    current = set(
        (
            await session.execute(
                select(AvailabilityCalendar.remote_calendar_id).where(
                    AvailabilityCalendar.user_id == viewer.user_id
                )
            )
        ).scalars()
    )
    added = wanted - current
    if added:
        rows = (
            await session.execute(
                select(RemoteCalendar, CalendarConnection)
                .join(CalendarConnection, CalendarConnection.id == RemoteCalendar.connection_id)
                .where(
                    RemoteCalendar.id.in_(added),
                    CalendarConnection.user_id == viewer.user_id,
                    CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                )
            )
        ).all()
        found = {calendar.id: (calendar, connection) for calendar, connection in rows}
        for remote_id in sorted(added):
            if remote_id not in found:
                raise NotFoundError("calendar", field="availabilityCalendarIds")
            calendar, connection = found[remote_id]
            _check_offerable(calendar, connection)
    removed = current - wanted
    if removed:
        await session.execute(
            delete(AvailabilityCalendar).where(
                AvailabilityCalendar.user_id == viewer.user_id,
                AvailabilityCalendar.remote_calendar_id.in_(removed),
            )
        )
    session.add_all(
        AvailabilityCalendar(
            account_id=viewer.account_id, user_id=viewer.user_id, remote_calendar_id=remote_id
        )
        for remote_id in sorted(added)
    )


def _check_offerable(calendar: RemoteCalendar, connection: CalendarConnection) -> None:
    field = "availabilityCalendarIds"
    if calendar.is_task_calendar:
        raise InvalidInput(
            f"'{calendar.name}' holds your synced tasks (S10), which never block booking "
            "times; pick another calendar.",
            field=field,
        )
    if not connection.scheduling_pages_enabled:
        raise InvalidInput(
            f"Scheduling pages are off for {connection.account_email}; turn them on for that "
            "connection to add its calendars.",
            field=field,
        )
    if connection.status is ConnectionStatus.ACCESS_LOST or (
        calendar.status is CalendarStatus.ACCESS_LOST
    ):
        raise InvalidInput(
            f"Access to '{calendar.name}' was lost; reconnect the calendar before adding it.",
            field=field,
        )
    if calendar.access is CalendarAccess.FREE_BUSY_READER or (
        connection.provider is Provider.GOOGLE and not calendar.can_see_all_details
    ):
        raise InvalidInput(
            f"'{calendar.name}' is shared with free/busy only; ask its owner for "
            "'See all event details' access to use it for availability.",
            field=field,
        )
