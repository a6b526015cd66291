"""Emails about bookings (kind BOOKING_EMAIL; C21, C43, C19): one row per recipient of a
booking event, posted by `slotgraph.usecases.booking_events.record` in the transaction of
the change, rendered when it is sent (`slotgraph.jobs.email_templates`), in the contact's
language stored with the booking (the host's: the host's locale).

Who gets what (C21): the contact, for every event (confirmed on booking, request received,
request confirmed or declined, rescheduled, cancelled); the host, for a new offline request,
with confirm and decline links into the dashboard (`SLOTGRAPH_DASHBOARD_BOOKINGS_URL`).

The manage link (C41) is in every email to the contact, a cancelled or declined booking's
too (its page shows that state): `bookMeeting` seals it on the booking with the credential
cipher (`Booking.manage_url_sealed`; the token itself is kept only as its SHA-256), and it
is opened here only to write the email. Meetings a host created have none.

One invitation (C43): a confirmation (on booking or by the host) first waits for the
booking's calendar create (`Waiting`, no attempt spent); written through Google, Microsoft
365 or Exchange, the provider invites the attendee, so our email carries no iCalendar;
offline, CalDAV (SCHEDULE-AGENT=CLIENT, C44) or a create that FAILED → our `REQUEST`
(`slotgraph.scheduling.ical`). Moves and cancellations follow the same rule with the
booking's higher SEQUENCE (`REQUEST`, `CANCEL`).

A server without SMTP (SLOTGRAPH_SMTP_HOST unset) marks the row done and shows NO_MAIL on
the booking: failing every booking's email there would only hide real failures.

Failures (C21): a 4xx or an unreachable server is retried by the outbox's backoff; a 5xx
(a recipient refused at RCPT included) is permanent. Either shows on the booking
(`Booking.email_error`) and is cleared by the next email sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import structlog
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.ids import to_global_id
from slotgraph.jobs.deliveries.emails import NO_MAIL
from slotgraph.jobs.email_templates import Letter
from slotgraph.jobs.email_templates import language_of
from slotgraph.jobs.email_templates import render_letter
from slotgraph.jobs.mail import MailError
from slotgraph.jobs.mail import MailRejected
from slotgraph.jobs.meetings import booking_meeting
from slotgraph.jobs.meetings import host_zone
from slotgraph.jobs.outbox import Delivery
from slotgraph.jobs.outbox import DeliveryFailure
from slotgraph.jobs.outbox import Waiting
from slotgraph.jobs.outbox import post
from slotgraph.models import Booking
from slotgraph.models import BookingEvent
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import RemoteCalendar
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.models.crypto import CredentialError
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.enums import CalendarWriteState
from slotgraph.models.enums import Provider
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.scheduling.ical import Method
from slotgraph.scheduling.ical import meeting_ics

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.credentials import CredentialStore
    from slotgraph.jobs.mail import Mailer

log = structlog.get_logger("slotgraph.emails")
CONTACT, HOST = "contact", "host"
DEFAULT_DASHBOARD_BOOKINGS_URL = "http://localhost:3000/bookings"
# C43: these providers send the attendee's invitation themselves (sendUpdates, Graph
# attendees, EWS SendToAllAndSaveCopy); CalDAV writes with SCHEDULE-AGENT=CLIENT (C44).
PROVIDER_INVITES = frozenset({Provider.GOOGLE, Provider.MICROSOFT365, Provider.EXCHANGE})
WAITING = "Waiting for the calendar write's outcome before sending the confirmation (C43)."
# Events whose email may carry an invitation, and which one.
_METHOD = {
    BookingEventKind.CREATED: Method.REQUEST,
    BookingEventKind.CONFIRMED: Method.REQUEST,
    BookingEventKind.RESCHEDULED: Method.REQUEST,
    BookingEventKind.CANCELLED: Method.CANCEL,
}


def contact_language(chosen: str | None, host_locale: str | None) -> str:
    """The language stored with a booking (C43): the page's, else the host's locale."""
    return language_of(chosen) or language_of(host_locale) or "en"


async def post_booking_email(
    session: AsyncSession,
    booking: Booking,
    event: BookingEvent,
) -> None:
    """Post the event's emails in the caller's transaction: the contact's, and for a new
    offline request also the host's. Meetings an integration created are its own (S9)."""
    if booking.integration is not None:
        return
    recipients = [CONTACT] + ([HOST] if event.kind is BookingEventKind.REQUESTED else [])
    for recipient in recipients:
        message = OutboxMessage(
            account_id=booking.account_id,
            kind=OutboxKind.BOOKING_EMAIL,
            booking_id=booking.id,
            payload={"event_id": event.id, "to": recipient},
        )
        await post(session, message)


class BookingEmails(Delivery):
    """Renders and sends one booking email; `mailer` None: no SMTP configured."""

    kinds: ClassVar[frozenset[OutboxKind]] = frozenset({OutboxKind.BOOKING_EMAIL})

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer | None,
        credentials: CredentialStore | None,
        *,
        dashboard_bookings_url: str = DEFAULT_DASHBOARD_BOOKINGS_URL,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.mailer = mailer
        self.credentials = credentials
        self.dashboard_bookings_url = dashboard_bookings_url.rstrip("/")

    async def deliver(self, message: OutboxMessage) -> Mapping[str, Any] | None:
        if self.mailer is None:  # a server without mail: the booking says so, nothing waits
            return {"email_error": NO_MAIL}
        letter = await self._letter(message)
        if letter is None:
            return None  # its booking is gone
        try:
            await self.mailer.send_message(letter.message(self.mailer.config.sender))
        except MailError as error:
            raise DeliveryFailure(
                error.message, permanent=isinstance(error, MailRejected)
            ) from None
        return None

    async def record_done(
        self, session: AsyncSession, message: OutboxMessage, result: Mapping[str, Any] | None
    ) -> None:
        await _show(session, message, (result or {}).get("email_error"))

    async def record_failure(
        self, session: AsyncSession, message: OutboxMessage, error: str, gave_up: bool
    ) -> None:
        await _show(session, message, error if gave_up else f"{error} (it will be retried)")

    async def _letter(self, message: OutboxMessage) -> Letter | None:
        payload = message.payload
        async with self.sessionmaker() as session:
            event = await session.get(BookingEvent, payload["event_id"])
            booking = await session.get(Booking, message.booking_id)
            if event is None or booking is None:
                return None
            host = await session.get_one(User, booking.host_user_id)
            contact = await session.get_one(Contact, booking.contact_id)
            page = await session.get(SchedulingPage, booking.page_id) if booking.page_id else None
            method = None
            if payload["to"] == CONTACT and event.kind in _METHOD:
                method = await self._invitation(session, booking, event.kind)
        zone = host_zone(host, page)
        contact_name = booking.contact_name or contact.name
        ics = None
        if method is not None:
            meeting = booking_meeting(booking, host, contact, page)
            ics = meeting_ics(meeting, method, now=event.occurred_at)
        if payload["to"] == HOST:
            # The id the dashboard hands to confirmBooking / declineBooking: the global one.
            base = f"{self.dashboard_bookings_url}/{to_global_id('Booking', booking.id)}"
            return render_letter(
                "host_request",
                language_of(host.locale) or "en",
                to=host.email,
                name=host.name,
                booking=booking,
                host_zone=zone,
                other_name=f"{contact_name} <{contact.email}>",
                confirm_url=f"{base}?decision=confirm",
                decline_url=f"{base}?decision=decline",
            )
        return render_letter(
            _template(event.kind, booking),
            booking.contact_language or language_of(host.locale) or "en",
            to=contact.email,
            name=contact_name,
            booking=booking,
            host_zone=zone,
            other_name=host.name,
            reason=event.reason,
            manage_url=self._manage_url(booking),
            ics=ics,
            method=method,
        )

    def _manage_url(self, booking: Booking) -> str | None:
        """The contact's manage link, opened from the booking; None for a meeting a host
        created, or when no configured key opens it (the email still goes, without it)."""
        if booking.manage_url_sealed is None or self.credentials is None:
            return None
        try:
            return str(self.credentials.unseal(booking.manage_url_sealed)["url"])
        except CredentialError:
            log.warning("manage link not decryptable", booking_id=booking.id)
            return None

    async def _invitation(
        self, session: AsyncSession, booking: Booking, kind: BookingEventKind
    ) -> Method | None:
        """C43: our invitation unless a provider sends one; a confirmation waits for the
        calendar create's outcome first."""
        if kind in (BookingEventKind.CREATED, BookingEventKind.CONFIRMED) and booking.on_calendar:
            pending = (
                await session.execute(
                    select(OutboxMessage.available_at, OutboxMessage.last_error)
                    .where(
                        OutboxMessage.booking_id == booking.id,
                        OutboxMessage.kind == OutboxKind.CALENDAR_CREATE,
                        OutboxMessage.state == OutboxState.PENDING,
                    )
                    .limit(1)
                )
            ).first()
            if pending is not None:
                raise Waiting(WAITING, pending.available_at if pending.last_error else None)
        if booking.on_calendar and booking.calendar_write_state is not CalendarWriteState.FAILED:
            provider = await _provider(session, booking)
            if provider in PROVIDER_INVITES:
                return None
        return _METHOD[kind]


def _template(kind: BookingEventKind, booking: Booking) -> str:
    if kind is BookingEventKind.CONFIRMED:
        return "request_confirmed"
    return kind.value.lower()


async def _provider(session: AsyncSession, booking: Booking) -> Provider | None:
    """The provider of the calendar holding the booking's event, if written."""
    if booking.remote_calendar_id is None:
        return None
    found: Provider | None = (
        await session.execute(
            select(CalendarConnection.provider)
            .join(RemoteCalendar, RemoteCalendar.connection_id == CalendarConnection.id)
            .where(RemoteCalendar.id == booking.remote_calendar_id)
        )
    ).scalar_one_or_none()
    return found


async def _show(session: AsyncSession, message: OutboxMessage, error: str | None) -> None:
    """C21: the last email's failure on the booking (None: it went out)."""
    if message.booking_id is not None:
        await session.execute(
            update(Booking).where(Booking.id == message.booking_id).values(email_error=error)
        )
