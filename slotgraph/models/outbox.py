"""Work that must follow a commit: calendar writes and emails (C14). Rows are written in
the same transaction as the change that needs them, so a crash can neither lose nor
double one; a worker delivers them and records failures for retry."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountRow
from slotgraph.models.base import Base
from slotgraph.models.base import CreatedAt
from slotgraph.models.base import enum_column
from slotgraph.models.base import reference_column


class OutboxKind(enum.StrEnum):
    CALENDAR_CREATE = "CALENDAR_CREATE"
    CALENDAR_UPDATE = "CALENDAR_UPDATE"
    CALENDAR_DELETE = "CALENDAR_DELETE"
    EMAIL = "EMAIL"
    # S10: make a task's event in the task sub-calendar match the task
    # (`slotgraph.jobs.task_events`).
    TASK_EVENT = "TASK_EVENT"
    # C22: one webhook delivery to a partner app (`slotgraph.jobs.deliveries.webhooks`).
    WEBHOOK = "WEBHOOK"
    # C21, C43: the email one booking event sends (`slotgraph.jobs.deliveries.booking_emails`).
    BOOKING_EMAIL = "BOOKING_EMAIL"


class OutboxState(enum.StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"  # gave up after bounded retries; visible on the booking


class OutboxMessage(AccountRow, Base):
    __tablename__ = "outbox"

    kind: Mapped[OutboxKind] = enum_column(OutboxKind)
    state: Mapped[OutboxState] = enum_column(OutboxState, default=OutboxState.PENDING)
    booking_id: Mapped[int | None] = reference_column("bookings.id", index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    done_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "available_at",
            postgresql_where="state = 'PENDING'",
        ),
    )


class IdempotencyKey(Base):
    """C12: the first completed result of a mutation per (scope, key), kept 24 hours.
    `scope` is `page:<id>` for anonymous callers and `token:<id>` otherwise; only
    completed results are stored, so a failed attempt may be retried. While its first call
    runs, the key is claimed (`response` null, `claim_token` its owner's), so a second call
    with it waits and replays (`slotgraph.usecases.idempotency`)."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # The database's clock, not the use cases' (which tests set): a claim's lease is about
    # a live process, so it runs in real time.
    claimed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class LostAccessNotice(Base):
    """C13: at most one "a contact tried to book" email per host, page and day."""

    __tablename__ = "lost_access_notices"

    host_user_id: Mapped[int] = reference_column("users.id", primary_key=True)
    page_id: Mapped[int] = reference_column("scheduling_pages.id", primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
