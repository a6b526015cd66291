"""createMeeting: a signed-in user logs a meeting on a CRM contact record (S9)."""

from __future__ import annotations

import datetime as dt

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.errors import IdempotencyKeyReused
from slotgraph.graph.errors import NotFound
from slotgraph.graph.errors import PermissionDenied
from slotgraph.graph.errors import SlotUnavailable
from slotgraph.graph.errors import ValidationError
from slotgraph.graph.relay import require_pk
from slotgraph.graph.results import fails_with
from slotgraph.graph.rows import from_columns
from slotgraph.graph.types.bookings import Booking
from slotgraph.usecases import meetings as use_case

MeetingNotSyncedReason = strawberry.enum(
    use_case.NotSynced,
    name="MeetingNotSyncedReason",
    description="Why a meeting was recorded on the contact only, with no calendar event.",
)


@strawberry.input
class CreateMeetingInput:
    contact_id: strawberry.ID
    start: dt.datetime
    end: dt.datetime
    title: str
    time_zone: str | None = strawberry.field(
        default=None, description="For the invitation; default: yours."
    )
    integration: str | None = strawberry.field(
        default=None,
        description="Set by an integration that holds this meeting in its own system: the "
        "meeting is recorded only, never written to a calendar (S9).",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Retry with the same key to get the first result again (C12, 24 hours).",
    )


@strawberry.type
class CreateMeetingSuccess:
    booking: Booking
    calendar_synced: bool = strawberry.field(
        description="An event is being written to your calendar with the contact invited."
    )
    not_synced_reason: MeetingNotSyncedReason | None  # type: ignore[valid-type]
    replayed: bool


@fails_with(NotFound, PermissionDenied, SlotUnavailable, ValidationError, IdempotencyKeyReused)
async def create_meeting(info: Info, input: CreateMeetingInput) -> CreateMeetingSuccess:
    """Log a meeting with a contact (S9): with calendar sync on, the event is written and
    the contact invited; with it off, only the engagement is recorded."""
    services = info.context.services
    contact_pk = require_pk(input.contact_id, "Contact", field="contactId", kind="contact")
    draft = from_columns(use_case.MeetingDraft, input, contact_id=contact_pk)
    outcome = await use_case.create_meeting(services, info.context.viewer, draft)
    return CreateMeetingSuccess(
        booking=Booking.from_row(outcome.booking),
        calendar_synced=outcome.not_synced is None,
        not_synced_reason=outcome.not_synced,
        replayed=outcome.replayed,
    )
