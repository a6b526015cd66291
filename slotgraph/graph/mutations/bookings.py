"""bookMeeting: a contact (anonymous allowed) books a slot of a public page."""

from __future__ import annotations

import datetime as dt
import enum

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import AvailabilityUnknown
from slotgraph.graph.errors import BotCheckFailed
from slotgraph.graph.errors import BotCheckUnavailable
from slotgraph.graph.errors import IdempotencyKeyReused
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PageUnavailable
from slotgraph.graph.errors import RateLimited
from slotgraph.graph.errors import SlotUnavailable
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import to_global_id
from slotgraph.graph.results import fails_with
from slotgraph.graph.rows import from_columns
from slotgraph.models import Booking as BookingRow
from slotgraph.usecases import bookings as use_case


@strawberry.input
class ContactInput:
    name: str
    email: str


@strawberry.input(description="One answer of the booking form.")
class AnswerInput:
    question: str = strawberry.field(description="The form field's `key`.")
    answer: str = strawberry.field(
        description="Text; for SINGLE_CHOICE one of its options; for CHECKBOX true or false."
    )


@strawberry.input
class BookMeetingInput:
    page_slug: str
    start: dt.datetime
    time_zone: str = strawberry.field(description="The contact's zone, for the confirmation.")
    contact: ContactInput
    duration: int | None = strawberry.field(
        default=None, description="One of the page's durations; default: its first."
    )
    domain: str | None = None
    answers: list[AnswerInput] | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retry with the same key to get the first result again (C12, 24 hours).",
    )
    bot_check_token: str | None = strawberry.field(
        default=None,
        description="The bot-check widget's token, on pages whose host asks for one (C34).",
    )
    language: str | None = strawberry.field(
        default=None,
        description="The language the contact booked in (en, ja; C19, C43): their emails "
        "speak it. Default: the host's locale.",
    )


@strawberry.enum
class BookedStatus(enum.Enum):
    """The booking's status as the contact sees it: the members of `BookingStatus`, as a
    type of its own so the contact's answers can grow apart from the host's."""

    REQUESTED = "REQUESTED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    DECLINED = "DECLINED"


@strawberry.type(description="What the contact learns about their booking.")
class BookedMeeting:
    id: strawberry.ID
    title: str
    start: dt.datetime
    end: dt.datetime
    time_zone: str
    status: BookedStatus

    @classmethod
    def from_row(cls, row: BookingRow) -> BookedMeeting:
        return from_columns(
            cls,
            row,
            id=to_global_id("Booking", row.id),
            start=row.starts_at,
            end=row.ends_at,
            status=BookedStatus(row.status.value),
        )


@strawberry.type
class BookMeetingSuccess:
    booking: BookedMeeting
    offline: bool = strawberry.field(
        description="The host has no calendar connected: a request, on no calendar (S7)."
    )
    replayed: bool = strawberry.field(description="The first result for this idempotency key.")
    manage_token: str | None = strawberry.field(
        description="The contact's secret for the confirmation's manage link "
        "(cancelBookingAsContact, rescheduleBookingAsContact, bookingFormPrefill). Shown "
        "once: only its digest is stored, so it is null on a replay."
    )


@fails_with(
    SlotUnavailable,
    PageUnavailable,
    AvailabilityUnknown,
    NotFound,
    ValidationError,
    IdempotencyKeyReused,
    RateLimited,
    BotCheckFailed,
    BotCheckUnavailable,
)
async def book_meeting(info: Info, input: BookMeetingInput) -> BookMeetingSuccess:
    """Book a slot (S8): re-checked live; the database refuses double bookings."""
    services = info.context.services
    answers = {a.question[:100]: a.answer for a in (input.answers or [])[:31]}
    request = use_case.BookingRequest(
        slug=input.page_slug[:300],
        domain=input.domain[:253] if input.domain else None,
        start=input.start,
        duration=input.duration,
        time_zone=input.time_zone,
        contact_name=input.contact.name,
        contact_email=input.contact.email,
        answers=answers,
        idempotency_key=input.idempotency_key,
        client_address=info.context.client_address,
        bot_check_token=input.bot_check_token,
        language=input.language[:35] if input.language else None,
    )
    outcome = await use_case.book_meeting(services, info.context.viewer, request)
    return BookMeetingSuccess(
        booking=BookedMeeting.from_row(outcome.booking),
        offline=outcome.offline,
        replayed=outcome.replayed,
        manage_token=outcome.manage_token,
    )
