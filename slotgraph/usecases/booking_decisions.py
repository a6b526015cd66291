"""The host's answer to an offline request (S7, C20, C42): confirm or decline a REQUESTED
booking, and the sweep that declines requests left unanswered at their start.

Who: the booking's host only, with a token holding `bookings:write`, as for cancel and
reschedule. C20 says the host decides; C23 gives admins the people and plan settings, not
other users' meetings, so an admin's call on a member's request is `NotFound` like any
booking that is not the caller's (C9).

Rules:
- Only REQUESTED bookings are answered: any other status, or a request whose start has
  passed (it is declined by the sweep, C42), is `BookingNotChangeable` with the reason.
- Confirming re-checks the slot like a booking (`check_slot`, S8), live against the host's
  calendars and bookings as they are now, its own time not counted as busy. The page's
  notice and horizon are measured from when the contact asked (`created_at`): a request
  that was bookable then does not lapse only because the host answered late. A time taken
  meanwhile (an event on a calendar connected since, a changed page) is `SlotUnavailable`.
  A host who has a calendar for meetings by then (C3) gets the meeting written there
  through the outbox, as bookMeeting does (C14); otherwise it stays off any calendar.
- Declining sets DECLINED with who declined it and why; the time is free again at once
  (C42: the exclusion constraint and availability leave DECLINED out).
- Idempotency keys replay a completed answer (C12), per token, as for reschedule.
- Every answer and every automatic decline records one booking event
  (`slotgraph.usecases.booking_events`), so the contact is told (C21) from one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from slotgraph.models import Booking
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.outbox import OutboxKind
from slotgraph.usecases import booking_events
from slotgraph.usecases import idempotency
from slotgraph.usecases.bookings import check_slot
from slotgraph.usecases.bookings import queue_calendar_write
from slotgraph.usecases.errors import BookingNotChangeableError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.manage_bookings import MAX_REASON
from slotgraph.usecases.manage_bookings import Manager
from slotgraph.usecases.manage_bookings import booking_page
from slotgraph.usecases.manage_bookings import for_host
from slotgraph.usecases.manage_bookings import locked_booking
from slotgraph.usecases.pages import get_public_page

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

log = structlog.get_logger("slotgraph.bookings")
CONFIRM = "confirmBooking"
DECLINE = "declineBooking"
EXPIRY_BATCH = 100
EXPIRED_REASON = "Not answered before the meeting's start."


@dataclass(frozen=True, slots=True)
class Decision:
    """The host's answer: confirm, or decline with an optional reason for the contact."""

    confirm: bool
    reason: str | None = None
    idempotency_key: str | None = None

    @property
    def operation(self) -> str:
        return CONFIRM if self.confirm else DECLINE

    def fingerprint(self, booking_id: int) -> str:
        return idempotency.request_fingerprint(
            {"booking": booking_id, "confirm": self.confirm, "reason": self.reason}
        )


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    booking: Booking
    replayed: bool


_NOT_REQUESTED = {
    BookingStatus.CONFIRMED: "This booking is confirmed already.",
    BookingStatus.CANCELLED: "This booking was cancelled.",
    BookingStatus.DECLINED: "This request was declined already.",
}


def _check_open(booking: Booking, now: dt.datetime) -> None:
    """A request the host may still answer."""
    if booking.status is not BookingStatus.REQUESTED:
        raise BookingNotChangeableError(_NOT_REQUESTED[booking.status], reason=booking.status.value)
    if booking.starts_at <= now:
        raise BookingNotChangeableError(
            "This request's time has come without an answer; it is declined automatically.",
            reason="STARTED",
        )


async def decide(
    services: Services, viewer: Viewer | None, booking_id: int | None, decision: Decision
) -> DecisionOutcome:
    """confirmBooking / declineBooking (see the module docstring)."""
    manager = for_host(viewer)
    if decision.reason is not None and len(decision.reason) > MAX_REASON:
        raise InvalidInput(f"Give a reason of at most {MAX_REASON} characters.", field="reason")
    idempotency.check_key(decision.idempotency_key)
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
    assert manager.viewer is not None
    scope, fingerprint = f"token:{manager.viewer.token_id}", decision.fingerprint(booking.id)
    async with idempotency.claimed(
        services, scope, decision.operation, decision.idempotency_key, fingerprint
    ) as claim:
        if claim.first is not None:
            return DecisionOutcome(booking=claim.first.booking, replayed=True)
        if decision.confirm:
            booking = await _confirm(services, manager, booking.id, claim)
        else:
            booking = await _decline(services, manager, booking.id, decision.reason, claim)
    await booking_events.announce(services, booking.host_user_id)
    return DecisionOutcome(booking=booking, replayed=False)


async def _confirm(
    services: Services, manager: Manager, booking_id: int, claim: idempotency.Claim
) -> Booking:
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
        _check_open(booking, now)
        page = await booking_page(session, booking)
    if page is None:
        raise BookingNotChangeableError(
            "The page this request was made on no longer exists; decline it, or create the "
            "meeting yourself.",
            reason="PAGE_DELETED",
        )
    public = await get_public_page(services, page.slug, None, field="bookingId")
    minutes = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
    found = await check_slot(
        services,
        public,
        booking.starts_at,
        minutes,
        now=min(booking.created_at, now),
        moving=booking,
        tell_host=False,
    )
    # No overlap can appear here: the request holds its time in the exclusion constraint
    # until it is confirmed (same time) or declined.
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
        _check_open(booking, services.clock())
        booking.status = BookingStatus.CONFIRMED
        booking.on_calendar = not found.offline
        booking.sequence += 1  # the invitation changes from TENTATIVE to CONFIRMED
        if booking.on_calendar:  # C20: the host has a calendar for meetings by now
            await queue_calendar_write(session, booking, OutboxKind.CALENDAR_CREATE)
        await booking_events.record(
            session, booking, BookingEventKind.CONFIRMED, actor=BookingActor.HOST, now=now
        )
        await claim.complete(session, booking)
    log.info("request confirmed", booking_id=booking.id, on_calendar=booking.on_calendar)
    return booking


async def _decline(
    services: Services,
    manager: Manager,
    booking_id: int,
    reason: str | None,
    claim: idempotency.Claim,
) -> Booking:
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        booking = await locked_booking(session, manager, booking_id)
        # Only requests are declined; one whose start passed before the sweep came is
        # still the host's to decline (with the host's reason rather than the sweep's).
        if booking.status is not BookingStatus.REQUESTED:
            _check_open(booking, now)
        await _declined(session, booking, BookingActor.HOST, reason, now)
        await claim.complete(session, booking)
    log.info("request declined", booking_id=booking.id)
    return booking


async def _declined(
    session: AsyncSession,
    booking: Booking,
    actor: BookingActor,
    reason: str | None,
    now: dt.datetime,
) -> None:
    booking.status = BookingStatus.DECLINED
    booking.declined_at, booking.declined_by, booking.decline_reason = now, actor, reason
    booking.sequence += 1  # the tentative invitation the contact may hold is withdrawn
    await booking_events.record(
        session, booking, BookingEventKind.DECLINED, actor=actor, now=now, reason=reason
    )


async def decline_unanswered_requests(services: Services, *, batch: int = EXPIRY_BATCH) -> int:
    """The periodic sweep (C42): decline up to `batch` REQUESTED bookings whose start has
    come (SKIP LOCKED shares them between workers, and a host answering at that moment
    holds the row), recorded as declined by SYSTEM. Returns how many were declined."""
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        due = list(
            await session.scalars(
                select(Booking)
                .where(Booking.status == BookingStatus.REQUESTED, Booking.starts_at <= now)
                .order_by(Booking.starts_at, Booking.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        for booking in due:
            await _declined(session, booking, BookingActor.SYSTEM, EXPIRED_REASON, now)
    for host_id in sorted({booking.host_user_id for booking in due}):
        await booking_events.announce(services, host_id)
    if due:
        log.info("unanswered requests declined", count=len(due))
    return len(due)
