"""Persistence: SQLAlchemy tables, the engine, and Alembic migrations.

Importing this package registers every table on `Base.metadata`.
"""

from slotgraph.models.accounts import Account, ApiToken, ConnectedDomain, InboxConnection, User
from slotgraph.models.base import Base
from slotgraph.models.bookings import Booking, BookingEvent, Contact
from slotgraph.models.busy_cache import BusyCacheInterval, BusyCacheWindow
from slotgraph.models.calendars import (
    AvailabilityCalendar,
    CalendarConnection,
    CalendarSyncCursor,
    CalendarWatch,
    Credential,
    OAuthFlow,
    RemoteCalendar,
    SyncedEvent,
)
from slotgraph.models.limits import LimitCounter
from slotgraph.models.outbox import IdempotencyKey, LostAccessNotice, OutboxMessage
from slotgraph.models.pages import SchedulingPage
from slotgraph.models.settings import CalendarSettings
from slotgraph.models.tasks import Task
from slotgraph.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "ApiToken",
    "AvailabilityCalendar",
    "Base",
    "Booking",
    "BookingEvent",
    "BusyCacheInterval",
    "BusyCacheWindow",
    "CalendarConnection",
    "CalendarSettings",
    "CalendarSyncCursor",
    "CalendarWatch",
    "ConnectedDomain",
    "Contact",
    "Credential",
    "IdempotencyKey",
    "InboxConnection",
    "LimitCounter",
    "LostAccessNotice",
    "OAuthFlow",
    "OutboxMessage",
    "RemoteCalendar",
    "SchedulingPage",
    "SyncedEvent",
    "Task",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
