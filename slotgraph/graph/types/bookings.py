"""Bookings and CRM contacts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from typing import Self

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_one
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.graph.types.pages import load_page
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarWriteState

if TYPE_CHECKING:
    from slotgraph.models import Booking as BookingRow
    from slotgraph.models import Contact as ContactRow

BookingStatusType = strawberry.enum(
    BookingStatus,
    name="BookingStatus",
    description="REQUESTED: an offline request (S7) waiting for your confirmBooking or "
    "declineBooking (C20); DECLINED and CANCELLED bookings free their time (C42).",
)
BookingActorType = strawberry.enum(
    BookingActor,
    name="BookingActor",
    description="Who did it: you, the contact, or the service (SYSTEM: a request declined "
    "automatically because it was not answered by its start, C42).",
)
CalendarWriteStateType = strawberry.enum(
    CalendarWriteState,
    name="CalendarWriteState",
    description=(
        "The booking's calendar write (C14): NONE for offline requests (S7), PENDING while "
        "it is written or retried, WRITTEN once the calendar matches, FAILED after bounded "
        "retries."
    ),
)


@strawberry.type(description="A CRM contact (S20).")
class Contact(Node):
    name: str
    email: str

    @classmethod
    def from_row(cls, row: ContactRow) -> Contact:
        return from_columns(cls, row)


@strawberry.type(description="A meeting booked with the viewer.")
class Booking(Node):
    page_pk: strawberry.Private[int | None]
    contact_pk: strawberry.Private[int]
    host_pk: strawberry.Private[int]
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str
    status: BookingStatusType  # type: ignore[valid-type]
    on_calendar: bool = strawberry.field(
        description="Has, or is getting, an event on your calendar (false: offline request "
        "or engagement only, S7, S9)."
    )
    integration: str | None = strawberry.field(
        description="The integration that created this meeting (recorded only, S9)."
    )
    answers: list[FormAnswer] = strawberry.field(
        description="The booking form's answers, by question."
    )
    calendar_write_state: CalendarWriteStateType  # type: ignore[valid-type]
    calendar_write_error: str | None = strawberry.field(
        description="Why the last calendar write failed; null once it succeeds (C14)."
    )
    contact_language: str | None = strawberry.field(
        description="The language the contact booked in (en, ja): their emails speak it (C43)."
    )
    email_error: str | None = strawberry.field(
        description="Why the last email about this booking was not sent (retried, or for good "
        "after a bounce); null once one went out (C21)."
    )
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    declined_at: dt.datetime | None
    declined_by: BookingActorType | None  # type: ignore[valid-type]
    decline_reason: str | None

    @strawberry.field
    async def contact(self, info: Info) -> Contact | None:
        return await load_one(info.context.loaders.contacts, self.contact_pk, Contact.from_row)

    @strawberry.field(description="Null when the page was deleted since.")
    async def page(self, info: Info) -> SchedulingPage | None:
        return await load_page(info, self.page_pk, self.host_pk)

    @classmethod
    def from_row(cls, row: BookingRow) -> Booking:
        return from_columns(
            cls,
            row,
            page_pk=row.page_id,
            contact_pk=row.contact_id,
            host_pk=row.host_user_id,
            answers=[FormAnswer(question=q, answer=a) for q, a in sorted(row.answers.items())],
        )


@strawberry.type
class BookingChange:
    """The success of a change to a booking that an idempotency key can replay (C12). Each
    mutation's success subclasses it under its own GraphQL name, so the two fields and the
    replay's description are written once; no field returns it, so it is no schema type."""

    booking: Booking
    replayed: bool = strawberry.field(description="The first result for this idempotency key.")

    @classmethod
    def of(cls, row: BookingRow, *, replayed: bool) -> Self:
        return cls(booking=Booking.from_row(row), replayed=replayed)


@strawberry.type(description="One answer of an earlier booking form.")
class FormAnswer:
    question: str
    answer: str


@strawberry.type(
    description="What the token's own booking submitted, for the booking form (S16, C26): "
    "never anything found through the email address."
)
class BookingFormPrefill:
    name: str = strawberry.field(
        description="The name typed on that booking; empty when it can no longer be told "
        "(its page was renamed or deleted since)."
    )
    email: str
    answers: list[FormAnswer] = strawberry.field(
        description="That booking's answers the page's form takes today, by question."
    )
