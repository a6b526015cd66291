"""Enumerations shared by tables, use cases and the GraphQL layer."""

from __future__ import annotations

import enum


class Seat(enum.StrEnum):
    """The hub seat a user is assigned (S10, S14)."""

    NONE = "NONE"
    SALES = "SALES"
    SERVICE = "SERVICE"


class Tier(enum.StrEnum):
    """A plan tier, lowest first: an account's plan holds one and its users' tiers stay
    within it (C39). Features follow the user's: the URL prefix from STARTER (S14), task
    sync from PROFESSIONAL (S10)."""

    FREE = "FREE"
    STARTER = "STARTER"
    PROFESSIONAL = "PROFESSIONAL"
    ENTERPRISE = "ENTERPRISE"


class Role(enum.StrEnum):
    """An account's admins manage its users and plan-bound settings; members manage only
    their own things (C23)."""

    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class InboxKind(enum.StrEnum):
    """Only a personal inbox qualifies its owner to connect a calendar (S4)."""

    PERSONAL = "PERSONAL"
    SHARED = "SHARED"


class InboxStatus(enum.StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


class Provider(enum.StrEnum):
    """Which adapter serves a connection (`slotgraph.providers`): Google and Microsoft 365
    by OAuth, Exchange (EWS) and CalDAV by password."""

    GOOGLE = "GOOGLE"
    MICROSOFT365 = "MICROSOFT365"
    EXCHANGE = "EXCHANGE"
    CALDAV = "CALDAV"


class ConnectionStatus(enum.StrEnum):
    """Whether the grant works (C1); independent of the sync state."""

    CONNECTED = "CONNECTED"
    ACCESS_LOST = "ACCESS_LOST"
    DISCONNECTED = "DISCONNECTED"


class SyncState(enum.StrEnum):
    """The busy-time sync as stored on the connection (C1); readers show it through
    `slotgraph.calendars.sync_status.shown_sync_state`, which squares it with the status."""

    IDLE = "IDLE"
    SYNCING = "SYNCING"
    SYNCED = "SYNCED"
    ERROR = "ERROR"


class ConnectionPurpose(enum.StrEnum):
    """S6: legacy accounts may hold one connection per purpose; everyone else holds BOTH."""

    BOTH = "BOTH"
    CALENDAR_SETTINGS = "CALENDAR_SETTINGS"
    MEETINGS_SETTINGS = "MEETINGS_SETTINGS"


class CalendarAccess(enum.StrEnum):
    """The connected account's access to a remote calendar (S12)."""

    OWNER = "OWNER"
    WRITER = "WRITER"
    READER = "READER"
    FREE_BUSY_READER = "FREE_BUSY_READER"


class CalendarStatus(enum.StrEnum):
    """One remote calendar's own access (C2): ACCESS_LOST once it was deleted or unshared at
    the provider, while its connection stays CONNECTED and syncs the others."""

    CONNECTED = "CONNECTED"
    ACCESS_LOST = "ACCESS_LOST"


class BookingStatus(enum.StrEnum):
    """REQUESTED is an offline-mode booking (S7): recorded, on no calendar, until its host
    confirms or declines it (C20), or its start passes unanswered (declined, C42)."""

    REQUESTED = "REQUESTED"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    DECLINED = "DECLINED"


# C42: declined and cancelled bookings free their time (availability and the bookings'
# exclusion constraint both leave them out).
TIME_FREEING_STATUSES = (BookingStatus.CANCELLED, BookingStatus.DECLINED)


class BookingEventKind(enum.StrEnum):
    """What happened to a booking, as told to the contact, webhooks and `bookingEvents`
    (C21, C22): CREATED is a confirmed booking, REQUESTED an offline request (S7)."""

    CREATED = "CREATED"
    REQUESTED = "REQUESTED"
    CONFIRMED = "CONFIRMED"
    DECLINED = "DECLINED"
    RESCHEDULED = "RESCHEDULED"
    CANCELLED = "CANCELLED"


class BookingActor(enum.StrEnum):
    """Who made a booking event: the host, the contact, or the service itself (SYSTEM: a
    request declined automatically at its start, C42)."""

    HOST = "HOST"
    CONTACT = "CONTACT"
    SYSTEM = "SYSTEM"


class CalendarWriteState(enum.StrEnum):
    """Where a booking stands with its calendar write (C14): NONE for offline requests (S7),
    PENDING while the outbox delivers or retries it (the last error, if any, is on the
    booking), WRITTEN once the default calendar holds it, FAILED after bounded retries."""

    NONE = "NONE"
    PENDING = "PENDING"
    WRITTEN = "WRITTEN"
    FAILED = "FAILED"


class Scope(enum.StrEnum):
    """What an API token may do. Reading one's own data needs READ."""

    READ = "read"
    SETTINGS_WRITE = "settings:write"
    PAGES_WRITE = "pages:write"
    CONNECTIONS_WRITE = "connections:write"
    BOOKINGS_WRITE = "bookings:write"
    TASKS_WRITE = "tasks:write"
    # Round 2 (C23, C37, C38): creating and revoking one's own tokens, managing webhook
    # endpoints, and the account-admin operations (users, the account's settings).
    TOKENS_WRITE = "tokens:write"
    WEBHOOKS_WRITE = "webhooks:write"
    ADMIN = "admin"


class DomainStatus(enum.StrEnum):
    """C40: a connected domain's proof of ownership, derived from its timestamps."""

    PENDING = "PENDING"  # never proven: its TXT record has not been found yet
    VERIFIED = "VERIFIED"
    LAPSED = "LAPSED"  # was proven; the record has been missing past the grace period
