"""The one seam for "something happened to a booking" (C21, C22, C42): every use case that
creates, confirms, declines, moves or cancels a booking calls `record` in the transaction
that made the change, and `announce` after it committed.

`record` writes a `BookingEvent` row (kind, actor, reason, time) beside the change, so an
event exists exactly when its change does. What reads those rows:
- the `bookingEvents` subscription (`slotgraph.usecases.subscriptions.watch_booking_events`),
  woken by the `booking` notice `announce` publishes (ids only, like every notice);
- the webhooks (C22): `record` posts the event to every endpoint that wants it, in the same
  transaction (`slotgraph.jobs.webhooks.enqueue_webhooks`);
- the emails to the contact and, for a new request, the host (C21, C43): `record` posts them
  in the same transaction (`slotgraph.jobs.deliveries.booking_emails.post_booking_email`).

    async with services.sessionmaker.begin() as session:
        ...change the booking...
        await booking_events.record(session, booking, BookingEventKind.CONFIRMED,
                                    actor=BookingActor.HOST, now=now)
    await booking_events.announce(services, booking.host_user_id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.jobs.deliveries.booking_emails import post_booking_email
from slotgraph.jobs.webhooks import BOOKING_EVENT_TYPES
from slotgraph.jobs.webhooks import enqueue_webhooks
from slotgraph.models import BookingEvent
from slotgraph.notices.changes import publish_booking_events
from slotgraph.notices.changes import publish_host_changed

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.models import Booking
    from slotgraph.models.enums import BookingActor
    from slotgraph.models.enums import BookingEventKind
    from slotgraph.usecases.services import Services


async def record(
    session: AsyncSession,
    booking: Booking,
    kind: BookingEventKind,
    *,
    actor: BookingActor,
    now: dt.datetime,
    reason: str | None = None,
) -> BookingEvent:
    """Write the booking's event in the caller's transaction (the booking flushed first, so
    a new booking has its id), and post its webhooks and emails (C21, C22)."""
    await session.flush()
    event = BookingEvent(
        account_id=booking.account_id,
        booking_id=booking.id,
        host_user_id=booking.host_user_id,
        kind=kind,
        actor=actor,
        reason=reason,
        occurred_at=now,
    )
    session.add(event)
    await session.flush()
    await enqueue_webhooks(session, BOOKING_EVENT_TYPES[kind], booking, now=now)
    await post_booking_email(session, booking, event)
    return event


async def announce(services: Services, host_user_id: int) -> None:
    """After commit: the host's pages may have changed slots (`availabilityChanged`), and
    the host's booking events have news (`bookingEvents`). Never raises (see
    `slotgraph.notices.changes`)."""
    await publish_host_changed(services.pubsub, services.sessionmaker, host_user_id)
    await publish_booking_events(services.pubsub, host_user_id)
