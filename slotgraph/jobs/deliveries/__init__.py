"""The outbox's delivery kinds, one module each; `slotgraph.jobs.outbox` is the machinery that
claims rows, retries them and hands each to the delivery registered for its kind.

A new kind (emails to contacts, webhooks) is one module with a `Delivery` subclass naming
its `kinds`, and one line in `deliveries` below (its `OutboxKind` member and migration
live with the models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.jobs.deliveries.booking_events import BookingEvents
from slotgraph.jobs.deliveries.emails import Emails
from slotgraph.jobs.deliveries.task_events import TaskEvents
from slotgraph.jobs.deliveries.webhooks import Webhooks
from slotgraph.jobs.outbox import Delivery, DeliveryPolicy, Outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from slotgraph.calendars.clients import CalendarClients
    from slotgraph.jobs.mail import Mailer

DEFAULT_POLICY = DeliveryPolicy()


def deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    clients: CalendarClients,
    *,
    mailer: Mailer | None,
    webhooks: Webhooks | None = None,
) -> list[Delivery]:
    """Every delivery kind of this server, as the workers run them (`webhooks` None: a
    WEBHOOK row fails as of an unknown kind, for tools and tests that send none)."""
    kinds: list[Delivery] = [
        BookingEvents(sessionmaker, clients),
        TaskEvents(sessionmaker, clients),
        Emails(mailer),
    ]
    return kinds if webhooks is None else [*kinds, webhooks]


def build_outbox(
    sessionmaker: async_sessionmaker[AsyncSession],
    clients: CalendarClients,
    *,
    mailer: Mailer | None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    webhooks: Webhooks | None = None,
) -> Outbox:
    """The outbox with every delivery kind registered (`Outbox.register` puts it on a
    job queue)."""
    kinds = deliveries(sessionmaker, clients, mailer=mailer, webhooks=webhooks)
    return Outbox(sessionmaker, kinds, policy=policy)
