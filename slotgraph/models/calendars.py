"""Calendar connections, the remote calendars they reach, availability selections and
the encrypted credential store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountId
from slotgraph.models.base import AccountRow
from slotgraph.models.base import Base
from slotgraph.models.base import CreatedAt
from slotgraph.models.base import IntPk
from slotgraph.models.base import UserRow
from slotgraph.models.base import enum_column
from slotgraph.models.base import reference_column
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import SyncState


class CalendarConnection(UserRow, Base):
    """One grant to one provider account. Toggles default per S9/S12 at connect time."""

    __tablename__ = "calendar_connections"

    provider: Mapped[Provider] = enum_column(Provider)
    account_email: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[ConnectionPurpose] = enum_column(
        ConnectionPurpose, default=ConnectionPurpose.BOTH
    )
    status: Mapped[ConnectionStatus] = enum_column(
        ConnectionStatus, default=ConnectionStatus.CONNECTED
    )
    sync_state: Mapped[SyncState] = enum_column(SyncState, default=SyncState.IDLE)
    calendar_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    task_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduling_pages_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_synced_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    events_synced: Mapped[int] = mapped_column(Integer, default=0)
    # Items the sync could not read and skipped, in total (slotgraph.providers.unreadable).
    skipped_items: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disconnected_at: Mapped[datetime | None]
    # Sync scheduling (slotgraph.calsync.engine): due when `next_sync_at` has passed; NULL
    # is parked (after too many failures, or access lost) until someone asks for a sync.
    # New connections are due at once.
    next_sync_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    # The lease of the worker running the sync: a killed worker's claim simply expires.
    sync_claimed_by: Mapped[str | None] = mapped_column(String(200))
    sync_claimed_until: Mapped[datetime | None]
    # Failed runs in a row; reset by a success or an on-demand sync.
    sync_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A sync was asked for (a push, on demand) since the running sync was claimed: its end
    # keeps the connection due, since what changed may postdate the run's listing.
    sync_asked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RemoteCalendar(AccountRow, Base):
    """A calendar the connected account can reach at the provider."""

    __tablename__ = "remote_calendars"

    connection_id: Mapped[int] = reference_column("calendar_connections.id", index=True)
    remote_id: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(500))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    access: Mapped[CalendarAccess] = enum_column(CalendarAccess)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    can_see_all_details: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[CalendarStatus] = enum_column(CalendarStatus, default=CalendarStatus.CONNECTED)
    # As the provider shows it ("#RRGGBB[AA]", CalDAV's calendar-color); None when unknown.
    color: Mapped[str | None] = mapped_column(String(32))
    # S10: the "Slotgraph tasks" sub-calendar task sync created. Never an availability
    # calendar and never read for busy time: a task's due time is a deadline, not a meeting.
    is_task_calendar: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    __table_args__ = (UniqueConstraint("connection_id", "remote_id"),)


class CalendarSyncCursor(Base):
    """Where the incremental sync of one remote calendar stands.

    `cursor` is the provider's opaque token (Google syncToken, Graph deltaLink, EWS sync
    state) after the last complete pass; NULL means the synced events are not current and
    a full listing is due. `page_token` is set between the pages of a pass, so a killed
    worker's successor resumes where the last committed page ended; `full_listing` says
    whether that pass is a full listing. `window_start`/`window_end` is the span the synced
    events cover; `synced_at` when the last pass completed.
    """

    __tablename__ = "calendar_sync_cursors"

    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id", primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    page_token: Mapped[str | None] = mapped_column(Text)
    full_listing: Mapped[bool] = mapped_column(Boolean, default=True)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]


class SyncedEvent(Base):
    """One remote event as the sync engine keeps it: only its busy span after C4 (NULL
    when the event leaves the time free), never its details. Keyed by calendar and remote
    id, so a replayed page upserts instead of duplicating."""

    __tablename__ = "synced_events"

    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id", primary_key=True)
    remote_event_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    busy_start: Mapped[datetime | None]
    busy_end: Mapped[datetime | None]
    synced_at: Mapped[datetime]

    __table_args__ = (Index("ix_synced_events_calendar_busy", "remote_calendar_id", "busy_start"),)


class AvailabilityCalendar(UserRow, Base):
    """A user's choice to check a remote calendar's free/busy before offering times (S12)."""

    __tablename__ = "availability_calendars"

    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id")

    __table_args__ = (UniqueConstraint("user_id", "remote_calendar_id"),)


class OAuthFlow(UserRow, Base):
    """A consent flow between `startCalendarConnection` and the provider's redirect back.

    Only the SHA-256 of `state` is stored (it travels in URLs); the flow itself (PKCE code
    verifier, nonce) is encrypted like any credential. Flows expire after a few minutes
    and are consumed exactly once.
    """

    __tablename__ = "oauth_flows"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[Provider] = enum_column(Provider)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]


class Credential(Base):
    """Provider secrets (tokens, passwords) as one authenticated ciphertext per connection.

    Only `slotgraph.models.crypto` reads or writes `ciphertext`; no other column ever holds a
    secret.
    """

    __tablename__ = "credentials"

    connection_id: Mapped[int] = reference_column("calendar_connections.id", primary_key=True)
    account_id: Mapped[AccountId]
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]
    rotated_at: Mapped[datetime | None]


class CalendarWatch(Base):
    """A push channel on one remote calendar: Google's `events.watch` channel
    or a Graph change-notification subscription, renewed before `expires_at`.

    `remote_id` is the provider's id for it (Google: the channel id we chose, sent back in
    `X-Goog-Channel-ID`; Graph: the `subscriptionId`), `resource_id` Google's watched
    resource (needed to stop the channel). The channel token / `clientState` is a random
    secret of 256 bits that only the provider and we know; only its SHA-256 is stored, so
    a database reader cannot forge notifications.
    """

    __tablename__ = "calendar_watches"

    id: Mapped[IntPk]
    connection_id: Mapped[int] = reference_column("calendar_connections.id", index=True)
    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id", index=True)
    provider: Mapped[Provider] = enum_column(Provider)
    remote_id: Mapped[str] = mapped_column(String(500))
    resource_id: Mapped[str | None] = mapped_column(String(500))
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[CreatedAt]
    renewed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("provider", "remote_id"),)
