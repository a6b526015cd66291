"""Webhook endpoints of partner apps and what was sent to them (C22, C38).

An endpoint belongs to the user who registered it; `account_wide` ones (admins only, C38)
hear of every booking and connection of the account, the others only of their owner's. The
signing secrets are sealed with the credential cipher (`secrets`: the current one and,
after a rotation, the previous one until `previous_until`), never stored in the clear.

A delivery is one event for one endpoint: its `message_id` is the `webhook-id` of every
attempt, and each attempt is a row of `webhook_attempts` (the delivery log). The outbox
row (`outbox_id`, kind WEBHOOK) does the retrying.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountRow
from slotgraph.models.base import Base
from slotgraph.models.base import IntPk
from slotgraph.models.base import UserRow
from slotgraph.models.base import enum_column
from slotgraph.models.base import reference_column


class WebhookDeliveryState(enum.StrEnum):
    PENDING = "PENDING"  # not yet answered with a 2xx; retried with backoff
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # gave up after the retry window, or the endpoint was disabled


class WebhookEndpoint(UserRow, Base):
    __tablename__ = "webhook_endpoints"

    account_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    # Empty: every event type.
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    secrets: Mapped[bytes] = mapped_column(LargeBinary)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failed attempt since the last success; three days of it disable the endpoint.
    failing_since: Mapped[datetime | None]


class WebhookDelivery(AccountRow, Base):
    __tablename__ = "webhook_deliveries"

    endpoint_id: Mapped[int] = reference_column("webhook_endpoints.id", index=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[WebhookDeliveryState] = enum_column(
        WebhookDeliveryState, default=WebhookDeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    # The outbox row sending it now (a redelivery posts a new one).
    outbox_id: Mapped[int | None] = reference_column("outbox.id", ondelete="SET NULL")
    # Retries stop this long after it (the first send, or the last redelivery).
    window_started_at: Mapped[datetime]


class WebhookAttempt(Base):
    """One try of a delivery, as the delivery log shows it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[IntPk]
    delivery_id: Mapped[int] = reference_column("webhook_deliveries.id", index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
