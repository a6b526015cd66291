"""cancelBooking, rescheduleBooking (the host) and their `AsContact` twins (the contact,
anonymous, with the manage token from bookMeeting)."""

from __future__ import annotations

import datetime as dt

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import AvailabilityUnknown
from slotgraph.graph.errors import BookingNotChangeable
from slotgraph.graph.errors import IdempotencyKeyReused
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PageUnavailable
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import RateLimited
from slotgraph.graph.errors import SlotUnavailable
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.mutations.bookings import BookedMeeting
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.types.bookings import Booking
from slotgraph.graph.types.bookings import BookingChange
from slotgraph.usecases import manage_bookings as use_case


@strawberry.input
class CancelBookingInput:
    booking_id: strawberry.ID
    reason: str | None = strawberry.field(
        default=None, description="Passed on with the calendar cancellation."
    )


@strawberry.input
class RescheduleBookingInput:
    booking_id: strawberry.ID
    start: dt.datetime = strawberry.field(
        description="The new start; the length stays. A page's booking must take one of "
        "the page's free slots."
    )
    idempotency_key: str | None = None


@strawberry.input
class CancelBookingAsContactInput:
    manage_token: str = strawberry.field(description="From the booking confirmation.")
    reason: str | None = None


@strawberry.input
class RescheduleBookingAsContactInput:
    manage_token: str = strawberry.field(description="From the booking confirmation.")
    start: dt.datetime
    domain: str | None = strawberry.field(
        default=None, description="The host the page was opened on; omit for the app domain."
    )
    idempotency_key: str | None = None


@strawberry.type
class CancelBookingSuccess:
    booking: Booking
    already_cancelled: bool = strawberry.field(description="Nothing changed: it was cancelled.")


@strawberry.type
class RescheduleBookingSuccess(BookingChange):
    pass


@strawberry.type
class CancelBookingAsContactSuccess:
    booking: BookedMeeting
    already_cancelled: bool


@strawberry.type
class RescheduleBookingAsContactSuccess:
    booking: BookedMeeting
    replayed: bool


_RESCHEDULE_ERRORS = (
    NotFound
    | BookingNotChangeable
    | SlotUnavailable
    | PageUnavailable
    | AvailabilityUnknown
    | ValidationError
    | IdempotencyKeyReused
)


@fails_with(NotFound, PermissionDenied, BookingNotChangeable, ValidationError)
async def cancel_booking(info: Info, input: CancelBookingInput) -> CancelBookingSuccess:
    """The host cancels one of their bookings; its calendar event is deleted (C11, C14)."""
    services = info.context.services
    manager = use_case.for_host(info.context.viewer)
    pk = require_pk(input.booking_id, "Booking", field="bookingId", kind="booking")
    outcome = await use_case.cancel_booking(services, manager, pk, input.reason)
    return CancelBookingSuccess(
        booking=Booking.from_row(outcome.booking), already_cancelled=not outcome.changed
    )


@fails_with(PermissionDenied, _RESCHEDULE_ERRORS)
async def reschedule_booking(info: Info, input: RescheduleBookingInput) -> RescheduleBookingSuccess:
    """The host moves a booking; re-checked live like bookMeeting (S8), event updated."""
    services = info.context.services
    manager = use_case.for_host(info.context.viewer)
    pk = require_pk(input.booking_id, "Booking", field="bookingId", kind="booking")
    move = use_case.Move(start=input.start, idempotency_key=input.idempotency_key)
    outcome = await use_case.reschedule_booking(services, manager, pk, move)
    return RescheduleBookingSuccess.of(outcome.booking, replayed=not outcome.changed)


@fails_with(NotFound, BookingNotChangeable, ValidationError, RateLimited)
async def cancel_booking_as_contact(
    info: Info, input: CancelBookingAsContactInput
) -> CancelBookingAsContactSuccess:
    """The contact cancels with their manage token (no sign-in), before the meeting starts."""
    services = info.context.services
    manager = use_case.for_contact(input.manage_token)
    outcome = await use_case.cancel_booking(services, manager, None, input.reason)
    return CancelBookingAsContactSuccess(
        booking=BookedMeeting.from_row(outcome.booking), already_cancelled=not outcome.changed
    )


@fails_with(_RESCHEDULE_ERRORS, RateLimited)
async def reschedule_booking_as_contact(
    info: Info, input: RescheduleBookingAsContactInput
) -> RescheduleBookingAsContactSuccess:
    """The contact moves their booking to another free slot of its page (no sign-in)."""
    services = info.context.services
    manager = use_case.for_contact(input.manage_token)
    move = use_case.Move(
        start=input.start,
        domain=input.domain[:253] if input.domain else None,
        idempotency_key=input.idempotency_key,
    )
    outcome = await use_case.reschedule_booking(services, manager, None, move)
    return RescheduleBookingAsContactSuccess(
        booking=BookedMeeting.from_row(outcome.booking), replayed=not outcome.changed
    )
