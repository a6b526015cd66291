"""Persistence: SQLAlchemy tables, the engine, and Alembic migrations.

Importing this package registers every table on `Base.metadata`.
"""

from models.accounts import Account, ApiToken, ConnectedDomain, InboxConnection, User
from models.base import Base
from models.bookings import Booking, Contact
from models.busy_cache import BusyCacheInterval, BusyCacheWindow
from models.calendars import (
    AvailabilityCalendar,
    CalendarConnection,
    CalendarSyncCursor,
    CalendarWatch,
    Credential,
    OAuthFlow,
    RemoteCalendar,
    SyncedEvent,
)
from models.outbox import IdempotencyKey, LostAccessNotice, OutboxMessage
from models.pages import SchedulingPage
from models.settings import CalendarSettings
from models.tasks import Task

__all__ = [
    "Account",
    "ApiToken",
    "AvailabilityCalendar",
    "Base",
    "Booking",
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
    "LostAccessNotice",
    "OAuthFlow",
    "OutboxMessage",
    "RemoteCalendar",
    "SchedulingPage",
    "SyncedEvent",
    "Task",
    "User",
]
