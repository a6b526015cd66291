"""Free slots of a public scheduling page (S7, S8, S12, S13, S17, C16).

Busy time is the union of the host's live bookings and of every calendar the page books
against: the primary calendar of each connection with scheduling pages on (C3, C5) and
every availability calendar (S12). Without a usable connection the page is in offline mode
(S7): bookings only.

Where calendar busy time comes from:
- Slot listing first takes every calendar whose incremental sync is current (its
  last pass within `Services.sync_freshness`, window covered) from its synced events
  (`slotgraph.calendars.synced_busy`), without asking the provider.
- For the other calendars, the busy cache (`slotgraph.calendars.busy_cache`):
- Every successful live free/busy read is stored in the busy cache with the time read.
- Slot listing (`availableSlots`) answers from the cache without calling the provider when
  every checked calendar was read within `BusyCachePolicy.listing` (setting
  `busy_cache_listing_seconds`, 30 s): a page that many contacts open at once costs the
  provider one read, not one per visitor. Otherwise it reads live.
- Booking (`bookMeeting`) always reads live first: it is the last check before a commit.
- A *transient* failure of a live read (timeout, 5xx, 429 after the adapter's retries) is
  answered from the cache when it covers the window and was read within
  `BusyCachePolicy.fallback` (setting `busy_cache_freshness_seconds`, 300 s), for listing
  and booking alike; past it the answer is a retryable `AvailabilityUnknownError`. Never
  free time over an unknown calendar, never a page blocked by one provider hiccup.
- Lost access is never served from the cache: a revoked grant or a calendar gone at the
  provider makes the page unavailable (S13, C2), whatever the cache holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import structlog
from sqlalchemy import select

from slotgraph.calendars import busy_cache
from slotgraph.calendars.checked import booking_calendars
from slotgraph.calendars.clients import client_for
from slotgraph.calendars.lost_access import calendars_lost
from slotgraph.calendars.lost_access import calendars_regained
from slotgraph.calendars.lost_access import mark_access_lost
from slotgraph.calendars.synced_busy import synced_busy
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import TIME_FREEING_STATUSES
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.providers import base as provider_errors
from slotgraph.scheduling import rules
from slotgraph.scheduling.slots import Refusal
from slotgraph.scheduling.slots import Slot
from slotgraph.scheduling.slots import SlotRules
from slotgraph.scheduling.slots import compute_slots
from slotgraph.scheduling.slots import refusal
from slotgraph.usecases import slot_answers
from slotgraph.usecases.errors import AvailabilityUnknownError
from slotgraph.usecases.errors import HostAccessLostError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import PagesTurnedOffError
from slotgraph.usecases.errors import SlotUnavailableError
from slotgraph.usecases.pages import PublicPage
from slotgraph.usecases.pages import get_public_page
from slotgraph.usecases.users import check_host_active

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.models import SchedulingPage
    from slotgraph.providers.base import CalendarClient
    from slotgraph.providers.base import Interval
    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.availability")
MAX_WINDOW = dt.timedelta(days=62)


@dataclass(frozen=True, slots=True)
class PageSlots:
    public: PublicPage
    offline: bool
    duration: int
    slots: list[Slot]
    # What the slots were computed from, so a refused start can be told why (`refused`).
    rules: SlotRules
    now: dt.datetime
    busy: list[Interval]
    bookings: list[tuple[dt.datetime, dt.datetime]]
    # What callers derive from these slots (the API's view of them per time zone), shared
    # by every request a shared answer serves and dropped with it (`slot_answers`).
    derived: dict[Hashable, Any] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def refused(self, start: dt.datetime) -> SlotUnavailableError | None:
        """None when `start` is one of the slots; else why not, as `SlotUnavailable` with a
        reason (`scheduling.slots.refusal` decides it) and what the caller can do."""
        if any(slot.start == start for slot in self.slots):
            return None
        reason = refusal(
            self.rules, now=self.now, start=start, busy=self.busy, bookings=self.bookings
        )
        # Slots were listed for a window around `start` only; a start the rules allow but
        # the listing did not offer can only be taken.
        reason = reason or Refusal.TAKEN
        return SlotUnavailableError(_refusal_message(reason, self.rules), reason=reason.value)


def _refusal_message(reason: Refusal, rules_: SlotRules) -> str:
    """What the contact can do about each reason, with the page's own numbers."""
    match reason:
        case Refusal.IN_THE_PAST:
            return "This time has already passed; pick one of the page's current slots."
        case Refusal.MINIMUM_NOTICE:
            return (
                f"This page needs {_span(rules_.minimum_notice_minutes)} notice; pick a later time."
            )
        case Refusal.BEYOND_BOOKING_WINDOW:
            return (
                f"This page takes bookings up to {rules_.booking_window_days} days ahead; pick "
                "an earlier time."
            )
        case Refusal.OUTSIDE_HOURS:
            return (
                "This time is outside the page's hours, or the meeting would run past them; "
                "pick one of the slots `availableSlots` lists."
            )
        case Refusal.OFF_GRID:
            return (
                f"Meetings on this page start every {rules_.interval_minutes} minutes, counted "
                "from midnight in the page's time zone; pick a start `availableSlots` lists."
            )
        case Refusal.DAY_FULL:
            return (
                f"The host takes at most {rules_.max_meetings_per_day} meetings a day and that "
                "day is full; pick another day."
            )
        case Refusal.TAKEN:
            return "This time is no longer available; pick another slot."


def _span(minutes: int) -> str:
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minutes"


@dataclass(frozen=True, slots=True)
class _Calendars:
    connection: CalendarConnection
    calendars: list[RemoteCalendar]


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
    raises HostAccessLostError when a grant was lost (S13, C2). Calendars marked lost are
    kept: they are read live, and a read that succeeds ends the loss (C27)."""
    result = []
    for connection, checked in await booking_calendars(session, host_id):
        if connection.status is ConnectionStatus.ACCESS_LOST:
            raise HostAccessLostError(_LOST)
        result.append(_Calendars(connection, checked))
    return result


def _lost(group: _Calendars) -> set[int]:
    return {c.id for c in group.calendars if c.status is CalendarStatus.ACCESS_LOST}


_LOST = (
    "This host cannot take bookings right now: access to one of their calendars was lost. "
    "They have been told; please try again later."
)


async def _client(
    services: Services, session: AsyncSession, connection: CalendarConnection
) -> CalendarClient:
    secret = await services.credentials.load(session, connection.id)
    if secret is None:
        raise HostAccessLostError(_LOST)
    client = client_for(
        services.sessionmaker, services.credentials, services.registry, connection, secret
    )
    if client is None:
        raise AvailabilityUnknownError(
            "The host's calendar provider is not reachable from this server; try again later."
        )
    return client


_UNKNOWN = (
    "The host's calendar did not answer and no recent copy of it is kept, so no time can be "
    "offered safely; try again in a minute."
)


async def _live_busy(
    services: Services,
    group: _Calendars,
    client: CalendarClient,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> list[Interval]:
    """One connection's calendars read live (and stored in the busy cache); calendars that
    failed transiently are answered from a fresh enough cached read, or not at all."""
    by_remote_id = {c.remote_id: c.id for c in group.calendars}
    lost = _lost(group)
    transient: list[int] = []
    read: dict[int, list[Interval]] = {}
    try:
        answer = await client.free_busy(list(by_remote_id), start, end)
    except provider_errors.AccessRevoked:
        # S13: the grant or password is gone; say so on the connection, not only here.
        await mark_access_lost(services.sessionmaker, group.connection.id, services.pubsub)
        raise HostAccessLostError(_LOST) from None
    except provider_errors.TransientError:
        transient = list(by_remote_id.values())
    except provider_errors.ProviderError:
        raise AvailabilityUnknownError(_UNKNOWN) from None
    else:
        gone = [
            by_remote_id[remote_id]
            for remote_id, error in answer.errors.items()
            if isinstance(error, provider_errors.CalendarGone) and remote_id in by_remote_id
        ]
        if gone:
            await calendars_lost(
                services.sessionmaker, services.pubsub, group.connection.user_id, gone
            )
        if any(isinstance(e, provider_errors.AccessRevoked) for e in answer.errors.values()):
            await mark_access_lost(services.sessionmaker, group.connection.id, services.pubsub)
        for remote_id, error in answer.errors.items():
            if isinstance(error, provider_errors.CalendarGone | provider_errors.AccessRevoked):
                raise HostAccessLostError(_LOST)
            if not isinstance(error, provider_errors.TransientError):
                raise AvailabilityUnknownError(_UNKNOWN)
            transient.append(by_remote_id[remote_id])
        read = {
            by_remote_id[remote_id]: list(spans)
            for remote_id, spans in answer.busy.items()
            if remote_id in by_remote_id and remote_id not in answer.errors
        }
        if lost & set(read):  # C27: the provider answers again for a lost calendar
            await calendars_regained(
                services.sessionmaker, services.pubsub, group.connection.user_id, lost & set(read)
            )
        async with services.sessionmaker.begin() as session:
            await busy_cache.store(
                session,
                read,
                start,
                end,
                read_at=now,
                keep_since=now - services.busy_cache.longest,
            )
    busy = [span for spans in read.values() for span in spans]
    if lost & set(transient):  # still unknown whether access is back: still lost (S13)
        raise HostAccessLostError(_LOST)
    if transient:
        async with services.sessionmaker() as session:
            cached = await busy_cache.lookup(
                session, transient, start, end, fresh_since=now - services.busy_cache.fallback
            )
        if cached is None:
            raise AvailabilityUnknownError(_UNKNOWN)
        log.warning(
            "busy cache answered for a failed live read",
            calendars=transient,
            age_seconds=round((now - cached.read_at).total_seconds(), 1),
        )
        busy.extend(cached.busy)
    return busy


async def calendar_busy(
    services: Services,
    host_id: int,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime,
    live: bool,
    moving_id: int | None = None,
) -> tuple[list[Interval], list[tuple[dt.datetime, dt.datetime]], bool]:
    """Busy intervals from every checked calendar, the host's bookings (but `moving_id`,
    a booking being rescheduled), and whether the host is offline (S7). `live`: read the
    providers even when the cache is fresh enough for listing (bookings). The database
    session is closed before any provider call, so a slow provider never holds a pooled
    connection."""
    booked = select(Booking.starts_at, Booking.ends_at).where(
        Booking.host_user_id == host_id,
        Booking.status.not_in(TIME_FREEING_STATUSES),  # C42
        Booking.ends_at > start,
        Booking.starts_at < end,
    )
    if moving_id is not None:
        booked = booked.where(Booking.id != moving_id)
    clients: list[CalendarClient] = []
    busy: list[Interval] = []
    async with services.sessionmaker() as session:
        bookings = [(a, b) for a, b in (await session.execute(booked)).all()]
        groups = await _calendars(session, host_id)
        offline = not groups
        if groups and not live:
            # A calendar marked lost is never answered from stored copies: read it live.
            probed = [group for group in groups if _lost(group)]
            rest = [group for group in groups if not _lost(group)]
            rest, busy = await _listing_busy(services, session, rest, start, end, now)
            groups = [*rest, *probed]
        for group in groups:
            clients.append(await _client(services, session, group.connection))
    for group, client in zip(groups, clients, strict=True):
        busy.extend(await _live_busy(services, group, client, start, end, now))
    return busy, bookings, offline


async def _listing_busy(
    services: Services,
    session: AsyncSession,
    groups: list[_Calendars],
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> tuple[list[_Calendars], list[Interval]]:
    """For slot listing, what the database can answer without a provider call: calendars
    with a current sync from their synced events, then (when every other calendar was read
    within the listing window) the rest from the busy cache. Returns the calendars still to
    read live and the busy time found."""
    busy: list[Interval] = []
    remaining: list[_Calendars] = []
    for group in groups:
        synced = await synced_busy(
            session,
            [c.id for c in group.calendars],
            start,
            end,
            now=now,
            freshness=services.sync_freshness,
        )
        busy.extend(span for spans in synced.values() for span in spans or ())
        unsynced = [c for c in group.calendars if synced[c.id] is None]
        if unsynced:
            remaining.append(_Calendars(group.connection, unsynced))
    listing = services.busy_cache.listing
    if remaining and listing > dt.timedelta(0):
        cached = await busy_cache.lookup(
            session,
            [c.id for group in remaining for c in group.calendars],
            start,
            end,
            fresh_since=now - listing,
        )
        if cached is not None:
            return [], [*busy, *cached.busy]
    return remaining, busy


async def available_slots(
    services: Services,
    *,
    slug: str,
    domain: str | None,
    start: dt.datetime,
    end: dt.datetime,
    duration: int | None,
) -> PageSlots:
    """availableSlots: the free slots in `[start, end)` of the page at `slug` as reached on
    `domain`, now (`services.clock`), answered from synced events or the busy cache where
    they are fresh enough."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "Give times with a UTC offset, e.g. 2030-01-07T09:00:00Z.", field="start"
        )
    if not start < end or end - start > MAX_WINDOW:
        raise InvalidInput("`end` must follow `start`, at most 62 days later.", field="end")
    public = await get_public_page(services, slug, domain)
    return await page_slots(
        services, public, start=start, end=end, duration=duration, now=services.clock()
    )


async def page_slots(
    services: Services,
    public: PublicPage,
    *,
    start: dt.datetime,
    end: dt.datetime,
    duration: int | None,
    now: dt.datetime,
    moving: Booking | None = None,
    live: bool = False,
) -> PageSlots:
    """The free slots in `[start, end)` (aware times, a window `available_slots` accepts)
    of a page the caller has already read, as of `now`; `live` as in `calendar_busy`.
    `moving` is a booking being rescheduled: its own time is not busy, neither as a
    booking nor as the calendar event it wrote (the span exactly equal to it). Booking and
    rescheduling come here with the page they read, so it is read once per request."""
    check_host_active(public.host)
    if not public.pages_enabled:
        raise PagesTurnedOffError(
            f"{public.host.name} is not taking bookings through scheduling pages right now; "
            "contact them directly.",
            field="pageSlug",
        )
    page = public.page
    chosen = duration if duration is not None else page.durations_minutes[0]
    if chosen not in page.durations_minutes:
        raise InvalidInput(
            f"This page offers meetings of {', '.join(map(str, page.durations_minutes))} minutes.",
            field="duration",
        )
    rules_ = slot_rules(page, public.host.time_zone, chosen)
    answers = services.slot_answers
    if answers is None or live or moving is not None:
        return await _computed_slots(services, public, rules_, start, end, now, moving, live)
    key = (page.id, start, end, chosen)
    shared: PageSlots | None = answers.get(key, now)
    if shared is not None:
        return dataclasses.replace(shared, public=public)
    ticket = answers.begin(key)
    try:
        computed = await _computed_slots(services, public, rules_, start, end, now, None, False)
    except BaseException:
        answers.finish(ticket, None, now, now)
        raise
    answers.finish(ticket, computed, _shared_until(services, computed, end), services.clock())
    return computed


def _shared_until(services: Services, computed: PageSlots, end: dt.datetime) -> dt.datetime:
    rules_ = computed.rules
    window = rules_.booking_window_days
    return slot_answers.expires_at(
        computed.now,
        listing=services.busy_cache.listing,
        first_slot=min((slot.start for slot in computed.slots), default=None),
        minimum_notice=dt.timedelta(minutes=rules_.minimum_notice_minutes),
        booking_window=None if window is None else dt.timedelta(days=window),
        window_end=end,
    )


async def _computed_slots(
    services: Services,
    public: PublicPage,
    rules_: SlotRules,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    moving: Booking | None,
    live: bool,
) -> PageSlots:
    chosen = rules_.duration_minutes
    margin = dt.timedelta(days=1)
    busy, bookings, offline = await calendar_busy(
        services,
        public.host.id,
        start - margin,
        end + margin,
        now=now,
        live=live,
        moving_id=moving.id if moving is not None else None,
    )
    if moving is not None and moving.on_calendar:
        own = (moving.starts_at, moving.ends_at)
        busy = [span for span in busy if span != own]
    slots = compute_slots(
        rules_,
        now=now,
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        busy=busy,
        bookings=bookings,
    )
    return PageSlots(
        public=public,
        offline=offline,
        duration=chosen,
        slots=slots,
        rules=rules_,
        now=now,
        busy=busy,
        bookings=bookings,
    )
