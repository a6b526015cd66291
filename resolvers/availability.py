"""Free slots of a public scheduling page (S7, S8, S12, S13, S17).

Busy time is the union of the host's live bookings and of every calendar the page books
against: the primary calendar of each connection with scheduling pages on (C3, C5) and
every availability calendar (S12), read live from the provider, unless its incremental sync is
current (issue #5: last pass within `Services.sync_freshness`, window covered), in which
case its synced events answer and the provider is not asked. A calendar that cannot be
read is never taken as free: a lost calendar or grant makes the page unavailable (S13),
and a provider failure answers a retryable `AvailabilityUnknownError`.
Without a usable connection the page is in offline mode (S7): bookings only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from models import AvailabilityCalendar, Booking, CalendarConnection, RemoteCalendar
from models.enums import BookingStatus, CalendarStatus, ConnectionStatus, Provider
from providers import base as provider_errors
from resolvers.errors import (
    AvailabilityUnknownError,
    HostAccessLostError,
    InvalidInput,
    PagesTurnedOffError,
)
from resolvers.pages import PublicPage, get_public_page
from scheduling import rules
from scheduling.slots import Slot, SlotRules, compute_slots
from sync.busy import synced_busy

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from models import SchedulingPage
    from providers.base import CalendarClient, Interval
    from resolvers.connections import Services

MAX_WINDOW = dt.timedelta(days=62)


@dataclass(frozen=True, slots=True)
class PageSlots:
    public: PublicPage
    offline: bool
    duration: int
    slots: list[Slot]


@dataclass(frozen=True, slots=True)
class _Calendars:
    connection: CalendarConnection
    remote_ids: list[str]
    calendar_ids: list[int]


def slot_rules(page: SchedulingPage, host_zone: str, duration: int) -> SlotRules:
    weekly = [
        rules.WeeklyHours(
            rules.Weekday[row["weekday"]],
            rules.parse_hhmm("weeklyHours", row["start"]),
            rules.parse_hhmm("weeklyHours", row["end"]),
        )
        for row in page.weekly_hours
    ]
    overrides = [
        rules.DateOverride(
            dt.date.fromisoformat(row["date"]),
            tuple(
                (rules.parse_hhmm("dateOverrides", a), rules.parse_hhmm("dateOverrides", b))
                for a, b in row["intervals"]
            ),
        )
        for row in page.date_overrides
    ]
    return SlotRules(
        time_zone=page.time_zone or host_zone,
        weekly_hours=weekly,
        date_overrides=overrides,
        duration_minutes=duration,
        interval_minutes=page.slot_interval_minutes,
        buffer_before_minutes=page.buffer_before_minutes,
        buffer_after_minutes=page.buffer_after_minutes,
        minimum_notice_minutes=page.minimum_notice_minutes,
        booking_window_days=page.booking_window_days,
        max_meetings_per_day=page.max_meetings_per_day,
    )


async def _calendars(session: AsyncSession, host_id: int) -> list[_Calendars]:
    """Per usable connection, the remote calendars to check (primary + availability);
    raises HostAccessLostError when any of them, or its grant, was lost (S13, C2)."""
    connections = list(
        (
            await session.execute(
                select(CalendarConnection).where(
                    CalendarConnection.user_id == host_id,
                    CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                    CalendarConnection.scheduling_pages_enabled.is_(True),
                )
            )
        ).scalars()
    )
    selected = set(
        (
            await session.execute(
                select(AvailabilityCalendar.remote_calendar_id).where(
                    AvailabilityCalendar.user_id == host_id
                )
            )
        ).scalars()
    )
    result = []
    for connection in connections:
        calendars = (
            await session.execute(
                select(RemoteCalendar).where(RemoteCalendar.connection_id == connection.id)
            )
        ).scalars()
        checked = [c for c in calendars if c.is_primary or c.id in selected]
        if connection.status is ConnectionStatus.ACCESS_LOST or any(
            c.status is CalendarStatus.ACCESS_LOST for c in checked
        ):
            raise HostAccessLostError(_LOST)
        result.append(
            _Calendars(connection, [c.remote_id for c in checked], [c.id for c in checked])
        )
    return result


_LOST = (
    "This host cannot take bookings right now: access to one of their calendars was lost. "
    "They have been told; please try again later."
)


async def _client(
    services: Services, session: AsyncSession, connection: CalendarConnection
) -> CalendarClient:
    registry = services.registry
    secret = await services.credentials.load(session, connection.id)
    if secret is None:
        raise HostAccessLostError(_LOST)
    if connection.provider is Provider.EXCHANGE and registry.exchange is not None:
        return registry.exchange.client(secret)
    oauth = registry.oauth.get(connection.provider.value)
    if oauth is None:
        raise AvailabilityUnknownError(
            "The host's calendar provider is not reachable from this server; try again later."
        )
    tokens = services.credentials.token_source(services.sessionmaker, oauth, connection.id)
    return oauth.client(tokens, connection.account_email)


async def calendar_busy(
    services: Services,
    session: AsyncSession,
    host_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime | None = None,
) -> tuple[list[Interval], bool]:
    """Busy intervals from every checked calendar, and whether the host is offline (S7).
    With `now`, calendars with a current sync answer from their synced events."""
    groups = await _calendars(session, host_id)
    busy: list[Interval] = []
    for group in groups:
        live = group.remote_ids
        if now is not None:
            synced = await synced_busy(
                session, group.calendar_ids, start, end, now=now, freshness=services.sync_freshness
            )
            live = [
                r
                for r, pk in zip(group.remote_ids, group.calendar_ids, strict=True)
                if synced[pk] is None
            ]
            busy.extend(span for spans in synced.values() for span in spans or ())
            if not live:
                continue
        client = await _client(services, session, group.connection)
        try:
            answer = await client.free_busy(live, start, end)
        except provider_errors.AccessRevoked:
            raise HostAccessLostError(_LOST) from None
        except provider_errors.ProviderError:
            raise AvailabilityUnknownError(
                "The host's calendar did not answer; try again in a minute."
            ) from None
        if answer.errors:
            if any(isinstance(e, provider_errors.CalendarGone) for e in answer.errors.values()):
                raise HostAccessLostError(_LOST)
            raise AvailabilityUnknownError(
                "Part of the host's calendar did not answer; try again in a minute."
            )
        for spans in answer.busy.values():
            busy.extend(spans)
    return busy, not groups


async def available_slots(
    services: Services,
    *,
    slug: str,
    domain: str | None,
    start: dt.datetime,
    end: dt.datetime,
    duration: int | None,
    now: dt.datetime,
    synced: bool = False,
) -> PageSlots:
    """Free slots of a page. With `synced`, calendars with a current sync answer from their
    synced events (what `availableSlots` shows); without it every calendar is read live
    (what `bookMeeting`'s re-check needs)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "Give times with a UTC offset, e.g. 2030-01-07T09:00:00Z.", field="start"
        )
    if not start < end or end - start > MAX_WINDOW:
        raise InvalidInput("`end` must follow `start`, at most 62 days later.", field="end")
    public = await get_public_page(services.sessionmaker, slug, domain, services.public_base_url)
    if not public.pages_enabled:
        raise PagesTurnedOffError(
            f"{public.host.name} is not taking bookings through scheduling pages right now; "
            "contact them directly.",
            field="slug",
        )
    page = public.page
    chosen = duration if duration is not None else page.durations_minutes[0]
    if chosen not in page.durations_minutes:
        raise InvalidInput(
            f"This page offers meetings of {', '.join(map(str, page.durations_minutes))} minutes.",
            field="duration",
        )
    rules_ = slot_rules(page, public.host.time_zone, chosen)
    margin = dt.timedelta(days=1)
    async with services.sessionmaker() as session:
        bookings = [
            (row.starts_at, row.ends_at)
            for row in (
                await session.execute(
                    select(Booking).where(
                        Booking.host_user_id == public.host.id,
                        Booking.status != BookingStatus.CANCELLED,
                        Booking.ends_at > start - margin,
                        Booking.starts_at < end + margin,
                    )
                )
            ).scalars()
        ]
        busy, offline = await calendar_busy(
            services,
            session,
            public.host.id,
            start - margin,
            end + margin,
            now=now if synced else None,
        )
    slots = compute_slots(
        rules_,
        now=now,
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        busy=[(span.start, span.end) for span in busy],
        bookings=bookings,
    )
    return PageSlots(public=public, offline=offline, duration=chosen, slots=slots)
