"""CRM contacts and the meetings they book."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountId
from slotgraph.models.base import AccountRow
from slotgraph.models.base import Base
from slotgraph.models.base import IntPk
from slotgraph.models.base import enum_column
from slotgraph.models.base import reference_column
from slotgraph.models.enums import TIME_FREEING_STATUSES
from slotgraph.models.enums import BookingActor
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import CalendarWriteState

_FREEING = ", ".join(f"'{status.value}'" for status in TIME_FREEING_STATUSES)


class Contact(AccountRow, Base):
    """A CRM contact, matched by email within an account (S20)."""

    __tablename__ = "contacts"

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("uq_contacts_account_email", "account_id", func.lower(email), unique=True),
    )


class Booking(AccountRow, Base):
    """A meeting booked on a page (or created from a contact record)."""

    __tablename__ = "bookings"

    host_user_id: Mapped[int] = reference_column("users.id", index=True)
    page_id: Mapped[int | None] = reference_column(
        "scheduling_pages.id", ondelete="SET NULL", index=True
    )
    contact_id: Mapped[int] = reference_column("contacts.id", index=True)
    title: Mapped[str] = mapped_column(String(300))
    # The name as the contact typed it on this booking: C26 prefill shows it back to the
    # holder of this booking's manage token. The CRM contact's name (matched by email,
    # S20) may be someone else's. NULL for meetings a host created, and for page bookings
    # whose title no longer told it when the column was added (migration 0013).
    contact_name: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    time_zone: Mapped[str] = mapped_column(String(64))
    status: Mapped[BookingStatus] = enum_column(BookingStatus)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    remote_event_id: Mapped[str | None] = mapped_column(Text)
    # The calendar the event was written to, so updates and deletes find it there even
    # after the host's default calendar changed.
    remote_calendar_id: Mapped[int | None] = reference_column(
        "remote_calendars.id", ondelete="SET NULL"
    )
    # C14: the calendar write follows through the outbox; its state and failure show here.
    calendar_write_state: Mapped[CalendarWriteState] = enum_column(
        CalendarWriteState, default=CalendarWriteState.NONE
    )
    calendar_write_error: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Whether the booking has, or will get through the outbox, an event on the host's
    # calendar: cancel and reschedule write outbox rows only then (REQUESTED offline
    # bookings and engagement-only CRM meetings never reach a calendar, S7, S9).
    on_calendar: Mapped[bool] = mapped_column(Boolean, default=False)
    # The contact's secret for cancel/reschedule without signing in: only its SHA-256 is
    # kept, so the database cannot give it back (it is shown once, in bookMeeting's answer).
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The manage link itself, for every email to the contact (C21, C41): sealed with the
    # credential cipher (`CredentialStore.seal`), so the database alone cannot give it back
    # either; opened only to write an email, never shown by the API, a log or an error.
    manage_url_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # S9: a meeting an integration created (and already holds elsewhere) is recorded only.
    integration: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None]
    # C20, C42: when and by whom a request was declined (SYSTEM: unanswered at its start).
    declined_at: Mapped[datetime | None]
    declined_by: Mapped[BookingActor | None] = enum_column(BookingActor, nullable=True)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # The meeting's iCalendar identity (RFC 5545): one UID for its whole life, and a
    # SEQUENCE that every reschedule and cancellation bumps, so calendars replace the
    # invitation they hold instead of adding a second one (slotgraph.scheduling.ical).
    ical_uid: Mapped[str] = mapped_column(
        String(255), unique=True, default=lambda: f"{uuid.uuid4()}@slotgraph"
    )
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # C43, C19: the language the contact booked in (the page's), for every email to them;
    # NULL: the host's locale decides.
    contact_language: Mapped[str | None] = mapped_column(String(8))
    # C21: why the last email about this booking was not sent (NULL once one went out).
    email_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_bookings_host_user_id_id", "host_user_id", "id"),
        # S8 / goal 4: the database itself refuses overlapping live bookings of one host,
        # whatever the race. The host id becomes a one-point range so GiST handles
        # equality without btree_gist (absent from the embedded server; see docs/environment.md).
        ExcludeConstraint(
            (text("int8range(host_user_id, host_user_id, '[]')"), "&&"),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            name="no_overlapping_bookings",
            using="gist",
            where=text(f"status NOT IN ({_FREEING})"),
        ),
        CheckConstraint("starts_at < ends_at", name="starts_before_end"),
    )


class BookingEvent(Base):
    """One thing that happened to a booking (C21, C22), written in the transaction that made
    it (`slotgraph.usecases.booking_events.record`): the `bookingEvents` subscription reads
    these, and the contact's emails and webhooks are to be delivered from them."""

    __tablename__ = "booking_events"

    id: Mapped[IntPk]
    account_id: Mapped[AccountId]
    booking_id: Mapped[int] = reference_column("bookings.id", ondelete="CASCADE", index=True)
    host_user_id: Mapped[int] = reference_column("users.id")
    kind: Mapped[BookingEventKind] = enum_column(BookingEventKind)
    actor: Mapped[BookingActor] = enum_column(BookingActor)
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime]

    __table_args__ = (Index("ix_booking_events_host_user_id_id", "host_user_id", "id"),)
