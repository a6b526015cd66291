"""Booking events: a booking's meeting written to, moved on and removed from the host's
calendar (C14, S12, C3; kinds CALENDAR_CREATE, CALENDAR_UPDATE, CALENDAR_DELETE).

CALENDAR_CREATE writes the booking to the host's default calendar only (C3, S12) with the
contact as attendee and an idempotency key derived from the booking (`event_key`), so a
retry after a crash, or a second worker after an expired lease, finds the event instead of
doubling it. CALENDAR_UPDATE and CALENDAR_DELETE use the event id stored on the booking
(deleting a gone event is fine); one whose create is still to be delivered waits behind it.

The booking shows how its write went (C14): on success the event id and WRITTEN; on a
failure the error, and FAILED once the outbox gives up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy import update

from slotgraph.calendars.default_calendar import ConnectedCalendar
from slotgraph.calendars.default_calendar import default_calendar
from slotgraph.jobs.deliveries.calendar_writes import CalendarDelivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.jobs.outbox import Waiting
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.providers.base import Attendee
from slotgraph.providers.base import EventDraft

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

NO_CALENDAR = (
    "The host has no connected calendar for meetings; connect one and book again to have "
    "meetings written to it."
)
WAITING = "Waiting for the meeting to be written to the calendar first."


def event_key(booking: Booking) -> str:
    """The booking's idempotency key at the provider: the same for every retry and every
    worker, different for every booking (also across databases sharing one calendar).
    Lowercase hex, which suits Google's event-id alphabet and Graph's transactionId."""
    seed = f"slotgraph-booking:{booking.id}:{booking.created_at.isoformat()}"
    return "sg" + hashlib.sha256(seed.encode()).hexdigest()[:40]


class BookingEvents(CalendarDelivery):
    """Writes bookings to the host's calendar; returns the booking columns to set."""

    kinds: ClassVar[frozenset[OutboxKind]] = frozenset(
        {OutboxKind.CALENDAR_CREATE, OutboxKind.CALENDAR_UPDATE, OutboxKind.CALENDAR_DELETE}
    )

    async def write(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        if message.kind is OutboxKind.CALENDAR_CREATE:
            return await self._create(message)
        return await self._change(message)

    async def record_done(
        self, session: AsyncSession, message: OutboxMessage, result: Mapping[str, Any] | None
    ) -> None:
        if result and message.booking_id is not None:
            await session.execute(
                update(Booking).where(Booking.id == message.booking_id).values(**result)
            )

    async def record_failure(
        self, session: AsyncSession, message: OutboxMessage, error: str, gave_up: bool
    ) -> None:
        if message.booking_id is None:
            return
        values: dict[str, Any] = {"calendar_write_error": error}
        if gave_up:
            values["calendar_write_state"] = CalendarWriteState.FAILED
        await session.execute(
            update(Booking).where(Booking.id == message.booking_id).values(**values)
        )

    async def _create(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        async with self.sessionmaker() as session:
            booking = await session.get(Booking, message.booking_id)
            if (
                booking is None
                or booking.status is not BookingStatus.CONFIRMED
                or booking.remote_event_id is not None
            ):
                return None  # cancelled before it was written, or written already
            contact = await session.get_one(Contact, booking.contact_id)
            target = await default_calendar(session, booking.host_user_id)
        if target is None:
            raise DeliveryFailure(NO_CALENDAR, permanent=True)
        client = await self.client(target.connection)
        draft = _draft(booking, contact)
        remote_id = await self.guarded(
            target.connection, client.create_event(target.calendar.remote_id, draft)
        )
        return {
            "remote_event_id": remote_id,
            "remote_calendar_id": target.calendar.id,
            "calendar_write_state": CalendarWriteState.WRITTEN,
            "calendar_write_error": None,
        }

    async def _change(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        async with self.sessionmaker() as session:
            booking = await session.get(Booking, message.booking_id)
            if booking is None:
                return None
            if message.kind is OutboxKind.CALENDAR_UPDATE and (
                booking.status is not BookingStatus.CONFIRMED
            ):
                # Cancelled since the move: the delete behind it removes the event; a patch
                # would have the provider mail the contact a new time first.
                return None
            if booking.remote_event_id is None:
                create = await _pending_create(session, booking.id)
                if create is not None:
                    raise Waiting(WAITING, create.available_at if create.last_error else None)
                return None  # never written: the calendar has nothing to change
            contact = await session.get_one(Contact, booking.contact_id)
            target = await _written_to(session, booking)
        if target is None:
            raise DeliveryFailure(NO_CALENDAR, permanent=True)
        client = await self.client(target.connection)
        event_id, calendar_id = booking.remote_event_id, target.calendar.remote_id
        if message.kind is OutboxKind.CALENDAR_DELETE:
            await self.guarded(target.connection, client.delete_event(calendar_id, event_id))
            return {
                "remote_event_id": None,
                "calendar_write_state": CalendarWriteState.WRITTEN,
                "calendar_write_error": None,
            }
        draft = _draft(booking, contact)
        await self.guarded(target.connection, client.update_event(calendar_id, event_id, draft))
        return {"calendar_write_state": CalendarWriteState.WRITTEN, "calendar_write_error": None}


def _draft(booking: Booking, contact: Contact) -> EventDraft:
    answers = "\n".join(f"{question}: {answer}" for question, answer in booking.answers.items())
    return EventDraft(
        title=booking.title,
        start=booking.starts_at,
        end=booking.ends_at,
        time_zone=booking.time_zone,
        attendees=(Attendee(email=contact.email, name=contact.name),),
        description=f"Booked through Slotgraph by {contact.name} <{contact.email}>.\n{answers}",
        idempotency_key=event_key(booking),
    )


async def _pending_create(session: AsyncSession, booking_id: int) -> OutboxMessage | None:
    """The booking's calendar create still to be delivered, if any."""
    found = await session.execute(
        select(OutboxMessage)
        .where(
            OutboxMessage.booking_id == booking_id,
            OutboxMessage.kind == OutboxKind.CALENDAR_CREATE,
            OutboxMessage.state == OutboxState.PENDING,
        )
        .limit(1)
    )
    return found.scalar_one_or_none()


async def _written_to(session: AsyncSession, booking: Booking) -> ConnectedCalendar | None:
    """The calendar holding the booking's event (else today's default calendar)."""
    if booking.remote_calendar_id is not None:
        calendar = await session.get(RemoteCalendar, booking.remote_calendar_id)
        if calendar is not None:
            connection = await session.get_one(CalendarConnection, calendar.connection_id)
            return ConnectedCalendar(connection, calendar)
    return await default_calendar(session, booking.host_user_id)
