"""confirmBooking and declineBooking: the host answers an offline request (S7, C20, C42)."""

from __future__ import annotations

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import AvailabilityUnknown
from slotgraph.graph.errors import BookingNotChangeable
from slotgraph.graph.errors import IdempotencyKeyReused
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PageUnavailable
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import SlotUnavailable
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.bookings import BookingChange
from slotgraph.usecases import booking_decisions as use_case

_KEY = "Retry with the same key to get the first result again (C12, 24 hours)."


@strawberry.input
class ConfirmBookingInput:
    booking_id: strawberry.ID = strawberry.field(description="A REQUESTED booking of yours.")
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.input
class DeclineBookingInput:
    booking_id: strawberry.ID = strawberry.field(description="A REQUESTED booking of yours.")
    reason: str | None = strawberry.field(
        default=None, description="Told to the contact (at most 500 characters)."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY)


@strawberry.type
class ConfirmBookingSuccess(BookingChange):
    pass


@strawberry.type
class DeclineBookingSuccess(BookingChange):
    pass


_ERRORS = (
    NotFound | PermissionDenied | BookingNotChangeable | ValidationError | IdempotencyKeyReused
)


@fails_with(SlotUnavailable, PageUnavailable, AvailabilityUnknown, _ERRORS)
async def confirm_booking(info: Info, input: ConfirmBookingInput) -> ConfirmBookingSuccess:
    """Confirm an offline request: its time is re-checked like a booking (S8) and, when you
    have a calendar for meetings by now, the meeting is written there (C20, C14)."""
    pk = require_pk(input.booking_id, "Booking", field="bookingId", kind="booking")
    decision = use_case.Decision(confirm=True, idempotency_key=input.idempotency_key)
    outcome = await use_case.decide(info.context.services, info.context.viewer, pk, decision)
    return ConfirmBookingSuccess.of(outcome.booking, replayed=outcome.replayed)


@fails_with(_ERRORS)
async def decline_booking(info: Info, input: DeclineBookingInput) -> DeclineBookingSuccess:
    """Decline an offline request; its time is free again at once (C42)."""
    pk = require_pk(input.booking_id, "Booking", field="bookingId", kind="booking")
    decision = use_case.Decision(
        confirm=False, reason=input.reason, idempotency_key=input.idempotency_key
    )
    outcome = await use_case.decide(info.context.services, info.context.viewer, pk, decision)
    return DeclineBookingSuccess.of(outcome.booking, replayed=outcome.replayed)
