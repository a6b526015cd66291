"""Webhook events (C22, C38): what happened, to whom it is sent, and what the receiver gets.
Sending is `slotgraph.jobs.deliveries.webhooks`.

`enqueue_webhooks(session, event_type, subject)` is the one way a change announces itself:
called in the transaction that made the change, it writes one delivery and one outbox row
(kind WEBHOOK) per endpoint that wants the event, so a commit always has its webhooks and a
rollback none. An endpoint wants an event when it is enabled, lists the event type (or lists
none), and is account-wide or belongs to the user the subject belongs to (the booking's
host, the connection's owner): C38, a member's endpoint sees only their own.

The payload is `{type, timestamp, data}`, with `data` the booking or connection as the API
shows it: the same field names and global ids (`slotgraph.ids`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from slotgraph import ids
from slotgraph.clock import utc_now
from slotgraph.jobs.outbox import post
from slotgraph.models import Booking
from slotgraph.models import CalendarConnection
from slotgraph.models import Contact
from slotgraph.models import OutboxMessage
from slotgraph.models import WebhookDelivery
from slotgraph.models import WebhookEndpoint
from slotgraph.models.enums import BookingEventKind
from slotgraph.models.outbox import OutboxKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

BOOKING_CREATED: Final = "booking.created"
BOOKING_CONFIRMED: Final = "booking.confirmed"
BOOKING_RESCHEDULED: Final = "booking.rescheduled"
BOOKING_CANCELLED: Final = "booking.cancelled"
BOOKING_DECLINED: Final = "booking.declined"
CONNECTION_STATUS_CHANGED: Final = "connection.status_changed"
# What a booking event (`slotgraph.usecases.booking_events.record`) is called on the wire; a
# request (S7) is created too, with `data.status` REQUESTED.
BOOKING_EVENT_TYPES: Final = {
    BookingEventKind.CREATED: BOOKING_CREATED,
    BookingEventKind.REQUESTED: BOOKING_CREATED,
    BookingEventKind.CONFIRMED: BOOKING_CONFIRMED,
    BookingEventKind.DECLINED: BOOKING_DECLINED,
    BookingEventKind.RESCHEDULED: BOOKING_RESCHEDULED,
    BookingEventKind.CANCELLED: BOOKING_CANCELLED,
}
EVENT_TYPES: Final = (
    BOOKING_CREATED,
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    BOOKING_CANCELLED,
    BOOKING_DECLINED,
    CONNECTION_STATUS_CHANGED,
)


def new_message_id() -> str:
    """The `webhook-id` of a delivery, kept for every attempt and redelivery."""
    return "msg_" + secrets.token_urlsafe(18)


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


async def booking_data(session: AsyncSession, booking: Booking) -> dict[str, Any]:
    """A booking as the API's `Booking` shows it (with its contact and page ids)."""
    contact = await session.get(Contact, booking.contact_id)
    return {
        "id": ids.to_global_id("Booking", booking.id),
        "title": booking.title,
        "startsAt": _when(booking.starts_at),
        "endsAt": _when(booking.ends_at),
        "timeZone": booking.time_zone,
        "status": booking.status.value,
        "onCalendar": booking.on_calendar,
        "integration": booking.integration,
        "answers": [{"question": q, "answer": a} for q, a in sorted(booking.answers.items())],
        "calendarWriteState": booking.calendar_write_state.value,
        "calendarWriteError": booking.calendar_write_error,
        "createdAt": _when(booking.created_at),
        "cancelledAt": _when(booking.cancelled_at),
        "contact": None
        if contact is None
        else {
            "id": ids.to_global_id("Contact", contact.id),
            "name": contact.name,
            "email": contact.email,
        },
        "page": None
        if booking.page_id is None
        else {"id": ids.to_global_id("SchedulingPage", booking.page_id)},
    }


def connection_data(connection: CalendarConnection) -> dict[str, Any]:
    """A connection as the API's `CalendarConnection` shows it (its own fields)."""
    return {
        "id": ids.to_global_id("CalendarConnection", connection.id),
        "provider": connection.provider.value,
        "accountEmail": connection.account_email,
        "purpose": connection.purpose.value,
        "status": connection.status.value,
        "lastError": connection.last_error,
        "createdAt": _when(connection.created_at),
    }


async def enqueue_webhooks(
    session: AsyncSession,
    event_type: str,
    subject: Booking | CalendarConnection,
    *,
    now: dt.datetime | None = None,
) -> int:
    """Post `event_type` about `subject` to every endpoint that wants it, in the caller's
    transaction; returns how many deliveries were written."""
    assert event_type in EVENT_TYPES, event_type
    owner = subject.host_user_id if isinstance(subject, Booking) else subject.user_id
    endpoints = (
        await session.execute(
            select(WebhookEndpoint).where(
                WebhookEndpoint.account_id == subject.account_id,
                WebhookEndpoint.disabled_at.is_(None),
                or_(WebhookEndpoint.account_wide, WebhookEndpoint.user_id == owner),
                or_(
                    func.cardinality(WebhookEndpoint.event_types) == 0,
                    WebhookEndpoint.event_types.contains([event_type]),
                ),
            )
        )
    ).scalars()
    wanting = list(endpoints)
    if not wanting:
        return 0
    data = (
        await booking_data(session, subject)
        if isinstance(subject, Booking)
        else connection_data(subject)
    )
    sent_at = now or utc_now()
    payload = {"type": event_type, "timestamp": _when(sent_at), "data": data}
    for endpoint in wanting:
        delivery = WebhookDelivery(
            account_id=endpoint.account_id,
            endpoint_id=endpoint.id,
            message_id=new_message_id(),
            event_type=event_type,
            payload=payload,
            window_started_at=sent_at,
        )
        session.add(delivery)
        await session.flush()
        await post_delivery(session, delivery)
    return len(wanting)


async def post_delivery(session: AsyncSession, delivery: WebhookDelivery) -> None:
    """Enqueue (another) sending of `delivery` through the outbox, in the caller's
    transaction: its first send and every redelivery."""
    message = await post(
        session,
        OutboxMessage(
            account_id=delivery.account_id,
            kind=OutboxKind.WEBHOOK,
            payload={"deliveryId": delivery.id},
        ),
    )
    delivery.outbox_id = message.id
