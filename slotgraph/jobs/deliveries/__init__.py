"""The outbox's delivery kinds, one module each; `slotgraph.jobs.outbox` is the machinery that
claims rows, retries them and hands each to the delivery registered for its kind.

A new kind (emails to contacts, webhooks) is one module with a `Delivery` subclass naming
its `kinds`, and one line in `deliveries` below (its `OutboxKind` member and migration
live with the models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.jobs.deliveries.booking_emails import DEFAULT_DASHBOARD_BOOKINGS_URL
from slotgraph.jobs.deliveries.booking_emails import BookingEmails
from slotgraph.jobs.deliveries.booking_events import BookingEvents
from slotgraph.jobs.deliveries.emails import Emails
from slotgraph.jobs.deliveries.task_events import TaskEvents
from slotgraph.jobs.deliveries.webhooks import Webhooks
from slotgraph.jobs.outbox import Delivery
from slotgraph.jobs.outbox import DeliveryPolicy
from slotgraph.jobs.outbox import Outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.calendars.clients import CalendarClients
    from slotgraph.calendars.credentials import CredentialStore
    from slotgraph.jobs.mail import Mailer

DEFAULT_POLICY = DeliveryPolicy()


def deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    clients: CalendarClients,
    *,
    mailer: Mailer | None,
    webhooks: Webhooks | None = None,
    credentials: CredentialStore | None = None,
    dashboard_bookings_url: str = DEFAULT_DASHBOARD_BOOKINGS_URL,
) -> list[Delivery]:
    """Every delivery kind of this server, as the workers run them (`webhooks` None: a
    WEBHOOK row fails as of an unknown kind, for tools and tests that send none).
    `credentials` opens the manage link sealed on a booking (`Booking.manage_url_sealed`)."""
    kinds: list[Delivery] = [
        BookingEvents(sessionmaker, clients),
        TaskEvents(sessionmaker, clients),
        Emails(mailer),
        BookingEmails(
            sessionmaker, mailer, credentials, dashboard_bookings_url=dashboard_bookings_url
        ),
    ]
    return kinds if webhooks is None else [*kinds, webhooks]


def build_outbox(
    sessionmaker: async_sessionmaker[AsyncSession],
    clients: CalendarClients,
    *,
    mailer: Mailer | None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    webhooks: Webhooks | None = None,
    credentials: CredentialStore | None = None,
    dashboard_bookings_url: str = DEFAULT_DASHBOARD_BOOKINGS_URL,
) -> Outbox:
    """The outbox with every delivery kind registered (`Outbox.register` puts it on a
    job queue)."""
    kinds = deliveries(
        sessionmaker,
        clients,
        mailer=mailer,
        webhooks=webhooks,
        credentials=credentials,
        dashboard_bookings_url=dashboard_bookings_url,
    )
    return Outbox(sessionmaker, kinds, policy=policy)
