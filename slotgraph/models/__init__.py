"""Persistence: SQLAlchemy tables, the engine, and Alembic migrations.

Importing this package registers every table on `Base.metadata`.
"""

from slotgraph.models.accounts import Account
from slotgraph.models.accounts import ApiToken
from slotgraph.models.accounts import ConnectedDomain
from slotgraph.models.accounts import InboxConnection
from slotgraph.models.accounts import User
from slotgraph.models.base import Base
from slotgraph.models.bookings import Booking
from slotgraph.models.bookings import BookingEvent
from slotgraph.models.bookings import Contact
from slotgraph.models.busy_cache import BusyCacheInterval
from slotgraph.models.busy_cache import BusyCacheWindow
from slotgraph.models.calendars import AvailabilityCalendar
from slotgraph.models.calendars import CalendarConnection
from slotgraph.models.calendars import CalendarSyncCursor
from slotgraph.models.calendars import CalendarWatch
from slotgraph.models.calendars import Credential
from slotgraph.models.calendars import OAuthFlow
from slotgraph.models.calendars import RemoteCalendar
from slotgraph.models.calendars import SyncedEvent
from slotgraph.models.limits import LimitCounter
from slotgraph.models.outbox import IdempotencyKey
from slotgraph.models.outbox import LostAccessNotice
from slotgraph.models.outbox import OutboxMessage
from slotgraph.models.pages import SchedulingPage
from slotgraph.models.settings import CalendarSettings
from slotgraph.models.tasks import Task
from slotgraph.models.webhooks import WebhookAttempt
from slotgraph.models.webhooks import WebhookDelivery
from slotgraph.models.webhooks import WebhookEndpoint

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
