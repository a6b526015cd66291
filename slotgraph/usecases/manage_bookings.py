"""Cancel and reschedule a booking, by its host or by its contact (C11).

Two doors, one set of rules:
- the host, signed in with a token holding `bookings:write`; only their own bookings are
  found, any other id is `NotFound` (C9);
- the contact, anonymous, presenting the secret manage token bookMeeting answered once
  (only its SHA-256 is stored, so an unknown and a forged token look the same).

Rules:
- A reschedule goes through the same live re-check as bookMeeting (`check_slot`), with the
  booking's own time not counted as busy; the move is one UPDATE, so the exclusion
  constraint still refuses an overlap with another booking (`SlotUnavailable`). Bookings
  without a page (CRM meetings, or a page deleted since) move wherever the host puts them,
  bounded by that constraint only; a contact cannot move those.
- Cancelled bookings, and bookings that have started, cannot be rescheduled. While the
  host's pages are turned off (S17) or a calendar lost access (S13), page bookings cannot
  move either (`PageUnavailable`), the host's own moves included; cancelling still works.
- A contact may cancel only before the meeting starts (after that it has happened, or is
  happening: they tell the host); the host may cancel until it ends. Cancelling a
  cancelled booking answers success again and changes nothing (safe to retry).
- A booking on a calendar (`on_calendar`) gets a CALENDAR_UPDATE or CALENDAR_DELETE outbox
  row in the same transaction (C14); Exchange is no exception since its adapter updates and
  deletes items (C11 lifts S11). Offline (REQUESTED) bookings and engagement-only meetings
  change without outbox rows.
- Idempotency keys replay a completed reschedule (C12): per token for the host, per
  booking for the contact (narrower than the page, so two contacts never collide).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import structlog
from sqlalchemy import select

from slotgraph.models import Booking
from slotgraph.models import SchedulingPage
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxKind
from slotgraph.usecases import booking_events
from slotgraph.usecases import idempotency
from slotgraph.usecases.bookings import check_slot
from slotgraph.usecases.bookings import manage_token_digest
from slotgraph.usecases.bookings import overlap_taken
from slotgraph.usecases.bookings import queue_calendar_write
from slotgraph.usecases.errors import BookingNotChangeableError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.pages import get_public_page
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.bookings")
OPERATION = "rescheduleBooking"
MAX_REASON = 500
_UNKNOWN_LINK = (
    "No booking for this link; use the manage link from your booking confirmation, or "
    "contact the host."
)


@dataclass(frozen=True, slots=True)
class Manager:
    """Who asks: the signed-in host, or the contact holding the manage token."""

    viewer: Viewer | None = None
    manage_token: str | None = None

    @property
    def is_contact(self) -> bool:
        return self.viewer is None

    @property
    def who(self) -> str:
        return "contact" if self.is_contact else "host"

    @property
    def actor(self) -> BookingActor:
        return BookingActor.CONTACT if self.is_contact else BookingActor.HOST


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    booking: Booking
    changed: bool  # False: already cancelled (cancel) or replayed (reschedule)


def for_host(viewer: Viewer | None) -> Manager:
    return Manager(viewer=require_viewer(viewer, Scope.BOOKINGS_WRITE))


def for_contact(manage_token: str) -> Manager:
    if not 1 <= len(manage_token) <= 200:
        raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
    return Manager(manage_token=manage_token)


async def locked_booking(
    session: AsyncSession, manager: Manager, booking_id: int | None
) -> Booking:
    """The booking, locked for the change; NotFound for anything the caller may not see."""
    query = select(Booking).with_for_update()
    if manager.viewer is not None:
        query = query.where(
            Booking.id == booking_id,
            Booking.account_id == manager.viewer.account_id,
            Booking.host_user_id == manager.viewer.user_id,
        )
    else:
        assert manager.manage_token is not None
        query = query.where(Booking.manage_token_hash == manage_token_digest(manager.manage_token))
    booking = (await session.execute(query)).scalar_one_or_none()
    if booking is None:
        if manager.is_contact:
            raise NotFoundError("booking", field="manageToken", message=_UNKNOWN_LINK)
        raise NotFoundError("booking", field="bookingId")
    return booking


async def _event_changes(
    session: AsyncSession, booking: Booking, kind: OutboxKind, **details: Any
) -> None:
    """A cancelled or moved booking: the contact's invitation changes (RFC 5545 SEQUENCE)
    and, while the booking is on the host's calendar, its event is changed too (`kind`)."""
    booking.sequence += 1
    if booking.on_calendar:
        await queue_calendar_write(
            session, booking, kind, remoteEventId=booking.remote_event_id, **details
        )


async def booking_page(session: AsyncSession, booking: Booking) -> SchedulingPage | None:
    """The page the booking was made on; None for a host's own meeting or a deleted page."""
    return None if booking.page_id is None else await session.get(SchedulingPage, booking.page_id)


async def cancel_booking(
    services: Services, manager: Manager, booking_id: int | None, reason: str | None
) -> ChangeOutcome:
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(f"Give a reason of at most {MAX_REASON} characters.", field="reason")
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
        if booking.status is BookingStatus.CANCELLED:
            return ChangeOutcome(booking=booking, changed=False)
        if booking.status is BookingStatus.DECLINED:
            raise BookingNotChangeableError(
                "This request was declined; there is nothing left to cancel.", reason="DECLINED"
            )
        if manager.is_contact and booking.starts_at <= now:
            raise BookingNotChangeableError(
                "This meeting has already started, so it can no longer be cancelled here; "
                "contact the host.",
                reason="STARTED",
            )
        if booking.ends_at <= now:
            raise BookingNotChangeableError(
                "This meeting is over; there is nothing left to cancel.", reason="ENDED"
            )
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        await _event_changes(
            session, booking, OutboxKind.CALENDAR_DELETE, cancelledBy=manager.who, reason=reason
        )
        await booking_events.record(
            session,
            booking,
            BookingEventKind.CANCELLED,
            actor=manager.actor,
            now=now,
            reason=reason,
        )
    log.info("cancelled", booking_id=booking.id, by_contact=manager.is_contact)
    await booking_events.announce(services, booking.host_user_id)
    return ChangeOutcome(booking=booking, changed=True)


@dataclass(frozen=True, slots=True)
class Move:
    start: dt.datetime
    domain: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self, booking_id: int) -> str:
        return idempotency.request_fingerprint(
            {"booking": booking_id, "start": self.start.astimezone(dt.UTC).isoformat()}
        )


def _check_movable(booking: Booking, now: dt.datetime) -> None:
    if booking.status is BookingStatus.CANCELLED:
        raise BookingNotChangeableError(
            "This booking was cancelled; book a new time instead.", reason="CANCELLED"
        )
    if booking.status is BookingStatus.DECLINED:
        raise BookingNotChangeableError(
            "This request was declined; book a new time instead.", reason="DECLINED"
        )
    if booking.starts_at <= now:
        raise BookingNotChangeableError(
            "This meeting has already started; book a new one instead.", reason="STARTED"
        )


def _scope(manager: Manager, booking: Booking) -> str:
    if manager.viewer is not None:
        return f"token:{manager.viewer.token_id}"
    return f"booking:{booking.id}"


async def reschedule_booking(
    services: Services, manager: Manager, booking_id: int | None, move: Move
) -> ChangeOutcome:
    if move.start.tzinfo is None:
        raise InvalidInput(
            "Give the start with a UTC offset, e.g. 2030-01-07T09:00:00Z.", field="start"
        )
    idempotency.check_key(move.idempotency_key)
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
    scope, fingerprint = _scope(manager, booking), move.fingerprint(booking.id)
    async with idempotency.claimed(
        services, scope, OPERATION, move.idempotency_key, fingerprint
    ) as claim:
        if claim.first is not None:
            return ChangeOutcome(booking=claim.first.booking, changed=False)
        return await _reschedule(services, manager, booking.id, move, claim)


async def _reschedule(
    services: Services, manager: Manager, booking_id: int, move: Move, claim: idempotency.Claim
) -> ChangeOutcome:
    start = move.start.astimezone(dt.UTC)
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
        _check_movable(booking, now)
        page = await booking_page(session, booking)
    duration = booking.ends_at - booking.starts_at
    if page is not None:
        # The page is the booking's own: only the domain the caller sent can miss it.
        public = await get_public_page(services, page.slug, move.domain, field="domain")
        await check_slot(
            services,
            public,
            start,
            int(duration.total_seconds() // 60),
            now=now,
            moving=booking,
            tell_host=manager.is_contact,
        )
    elif manager.is_contact:
        raise BookingNotChangeableError(
            "The page this meeting was booked on no longer exists; contact the host to move it.",
            reason="PAGE_DELETED",
        )
    elif start <= now:
        raise InvalidInput("Pick a time in the future.", field="start")
    with overlap_taken():
        async with services.sessionmaker.begin() as session:
            booking = await locked_booking(session, manager, booking.id)
            _check_movable(booking, now)
            previous = booking.starts_at
            booking.starts_at, booking.ends_at = start, start + duration
            await _event_changes(
                session,
                booking,
                OutboxKind.CALENDAR_UPDATE,
                start=booking.starts_at.isoformat(),
                end=booking.ends_at.isoformat(),
                previousStart=previous.isoformat(),
                rescheduledBy=manager.who,
            )
            await booking_events.record(
                session, booking, BookingEventKind.RESCHEDULED, actor=manager.actor, now=now
            )
            await claim.complete(session, booking)
    log.info("rescheduled", booking_id=booking.id, by_contact=manager.is_contact)
    await booking_events.announce(services, booking.host_user_id)
    return ChangeOutcome(booking=booking, changed=True)
