"""createMeeting: a signed-in user logs a meeting on a CRM contact record (S9).

With calendar sync on for the user's meetings connection (C3: the meetings-settings
connection of a legacy dual account, else the only one) the meeting is CONFIRMED and a
CALENDAR_CREATE outbox row asks for the event with the contact invited (C14). With sync
off, no usable connection, or a meeting an integration created, only the engagement is
recorded: no outbox row, no invitation.

"Meetings created by integrations are not synced" (S9): every caller, SPA or partner
app, signs in with the same kind of bearer token, so a token cannot tell them apart.
An integration names itself in `integration` (it holds the meeting in its own system
already); such meetings are recorded only. Anything else is the user's own meeting.

The host chose the time on purpose, so it is not checked against their calendars or a
page's hours (it may overlap calendar events); the database still refuses an overlap with
another of the host's live bookings (`SlotUnavailable`), as it does for every booking.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from slotgraph.calendars.default_calendar import meetings_connection
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import User
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Scope
from slotgraph.models.outbox import OutboxKind
from slotgraph.scheduling import rules
from slotgraph.usecases import booking_events
from slotgraph.usecases import idempotency
from slotgraph.usecases.bookings import overlap_taken
from slotgraph.usecases.bookings import queue_calendar_write
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.meetings")
OPERATION = "createMeeting"
MAX_LENGTH = dt.timedelta(hours=24)
_YOURS_TAKEN = (
    "You already have a meeting booked at this time; cancel or move it first, or pick another time."
)


class NotSynced(enum.StrEnum):
    """Why a meeting was recorded only, not written to a calendar."""

    INTEGRATION = "INTEGRATION"
    NO_CALENDAR = "NO_CALENDAR"
    SYNC_OFF = "SYNC_OFF"
    ACCESS_LOST = "ACCESS_LOST"


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    contact_id: int
    start: dt.datetime
    end: dt.datetime
    title: str
    time_zone: str | None = None
    integration: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        return idempotency.request_fingerprint(
            {
                "contact": self.contact_id,
                "start": self.start.astimezone(dt.UTC).isoformat(),
                "end": self.end.astimezone(dt.UTC).isoformat(),
                "title": self.title,
                "timeZone": self.time_zone,
                "integration": self.integration,
            }
        )


@dataclass(frozen=True, slots=True)
class MeetingOutcome:
    booking: Booking
    not_synced: NotSynced | None
    replayed: bool


def _validate(draft: MeetingDraft) -> None:
    if draft.start.tzinfo is None or draft.end.tzinfo is None:
        raise InvalidInput(
            "Give times with a UTC offset, e.g. 2030-01-07T09:00:00Z.", field="start"
        )
    if not draft.start < draft.end <= draft.start + MAX_LENGTH:
        raise InvalidInput("`end` must follow `start`, at most 24 hours later.", field="end")
    if not 1 <= len(draft.title.strip()) <= 300:
        raise InvalidInput("Give a title of 1 to 300 characters.", field="title")
    if draft.time_zone is not None:
        try:
            rules.check_time_zone("timeZone", draft.time_zone)
        except rules.RuleError as exc:
            raise InvalidInput(exc.message, field=exc.field) from None
    if draft.integration is not None and not 1 <= len(draft.integration.strip()) <= 100:
        raise InvalidInput("Name the integration in 1 to 100 characters.", field="integration")
    idempotency.check_key(draft.idempotency_key)


def _not_synced(draft: MeetingDraft, connection: CalendarConnection | None) -> NotSynced | None:
    if draft.integration is not None:
        return NotSynced.INTEGRATION
    if connection is None:
        return NotSynced.NO_CALENDAR
    if not connection.calendar_sync_enabled:
        return NotSynced.SYNC_OFF
    if connection.status is ConnectionStatus.ACCESS_LOST:
        return NotSynced.ACCESS_LOST
    return None


async def create_meeting(
    services: Services, viewer: Viewer | None, draft: MeetingDraft
) -> MeetingOutcome:
    viewer = require_viewer(viewer, Scope.BOOKINGS_WRITE)
    _validate(draft)
    scope = f"token:{viewer.token_id}"
    async with idempotency.claimed(
        services, scope, OPERATION, draft.idempotency_key, draft.fingerprint()
    ) as claim:
        if claim.first is not None:
            return _replayed(claim.first)
        return await _create(services, viewer, draft, claim)


async def _create(
    services: Services, viewer: Viewer, draft: MeetingDraft, claim: idempotency.Claim
) -> MeetingOutcome:
    with overlap_taken(_YOURS_TAKEN):
        async with services.sessionmaker.begin() as session:
            contact = (
                await session.execute(
                    select(Contact).where(
                        Contact.id == draft.contact_id, Contact.account_id == viewer.account_id
                    )
                )
            ).scalar_one_or_none()
            if contact is None:
                raise NotFoundError("contact", field="contactId")
            host = await session.get_one(User, viewer.user_id)
            not_synced = _not_synced(draft, await meetings_connection(session, host.id))
            booking = Booking(
                account_id=viewer.account_id,
                host_user_id=host.id,
                page_id=None,
                contact_id=contact.id,
                title=draft.title.strip(),
                starts_at=draft.start.astimezone(dt.UTC),
                ends_at=draft.end.astimezone(dt.UTC),
                time_zone=draft.time_zone or host.time_zone,
                status=BookingStatus.CONFIRMED,
                answers={},
                on_calendar=not_synced is None,
                integration=draft.integration.strip() if draft.integration else None,
            )
            session.add(booking)
            await session.flush()
            if not_synced is None:
                await queue_calendar_write(
                    session,
                    booking,
                    OutboxKind.CALENDAR_CREATE,
                    attendees=[{"email": contact.email, "name": contact.name}],
                    sendInvitations=True,
                )
            await booking_events.record(
                session,
                booking,
                BookingEventKind.CREATED,
                actor=BookingActor.HOST,
                now=services.clock(),
            )
            await claim.complete(
                session, booking, notSynced=None if not_synced is None else not_synced.value
            )
    log.info("meeting created", booking_id=booking.id, synced=not_synced is None)
    # Its time is taken on every page of the host.
    await booking_events.announce(services, booking.host_user_id)
    return MeetingOutcome(booking=booking, not_synced=not_synced, replayed=False)


def _replayed(first: idempotency.FirstAnswer) -> MeetingOutcome:
    """What an earlier call with the same key answered (C12)."""
    reason = first.answered.get("notSynced")
    return MeetingOutcome(
        booking=first.booking,
        not_synced=None if reason is None else NotSynced(reason),
        replayed=True,
    )
