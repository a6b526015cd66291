"""Accounts (tenants), their users, API tokens, inboxes and connected domains."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountRow
from slotgraph.models.base import Base
from slotgraph.models.base import CreatedAt
from slotgraph.models.base import IntPk
from slotgraph.models.base import UserRow
from slotgraph.models.base import enum_column
from slotgraph.models.base import reference_column
from slotgraph.models.enums import InboxKind
from slotgraph.models.enums import InboxStatus
from slotgraph.models.enums import Role
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier


class Account(Base):
    """A customer portal. `created_at` decides S6 legacy dual connections."""

    __tablename__ = "accounts"

    id: Mapped[IntPk]
    name: Mapped[str] = mapped_column(String(200))
    custom_domains_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The plan (C39), set by the operator's CLI, read-only in GraphQL: the highest tier its
    # users may hold and how many paid seats of each kind it has (None: no limit).
    plan_tier: Mapped[Tier] = enum_column(Tier, default=Tier.ENTERPRISE)
    sales_seats: Mapped[int | None] = mapped_column(Integer)
    service_seats: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]


class User(AccountRow, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(35), default="en-US")
    seat: Mapped[Seat] = enum_column(Seat, default=Seat.NONE)
    tier: Mapped[Tier] = enum_column(Tier, default=Tier.FREE)
    personal_email_access: Mapped[bool] = mapped_column(Boolean, default=False)
    # S6: set when a legacy (pre-2023-03-13) user disconnects one of two connections;
    # from then on only one connection may exist.
    dual_connections_ended_at: Mapped[datetime | None]
    role: Mapped[Role] = enum_column(Role, default=Role.MEMBER)
    # C23: set by deactivateUser; from then on the user's tokens, pages and syncs stop.
    deactivated_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_users_account_email", "account_id", func.lower(email), unique=True),
    )


class ApiToken(UserRow, Base):
    """A bearer token; only its SHA-256 is stored, so a database leak reveals no token."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # C48: written at most once a minute, so authentication stays a read.
    last_used_at: Mapped[datetime | None]


class InboxConnection(UserRow, Base):
    """An email integration. S4: a SHARED inbox owner cannot connect a calendar; S5: a
    calendar connect also connects this, and it can be disconnected on its own."""

    __tablename__ = "inbox_connections"

    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[InboxKind] = enum_column(InboxKind)
    status: Mapped[InboxStatus] = enum_column(InboxStatus, default=InboxStatus.CONNECTED)
    calendar_connection_id: Mapped[int | None] = reference_column(
        "calendar_connections.id", ondelete="SET NULL"
    )


class ConnectedDomain(AccountRow, Base):
    """A domain connected in the domain manager; pages may be hosted on it (S15) once its
    ownership is proven by a DNS TXT record (C40, `slotgraph.usecases.domain_verification`).

    Several accounts may have the same domain *pending* (so nobody can squat a domain by
    adding it first); only one may hold it verified, which the partial unique index keeps."""

    __tablename__ = "connected_domains"

    domain: Mapped[str] = mapped_column(String(253))
    robots_disallow_meetings: Mapped[bool] = mapped_column(Boolean, default=False)
    # C40: the value the TXT record at `_slotgraph-verify.<domain>` must hold; random for
    # every row, however it is made (never empty, which an empty TXT record would match).
    verification_token: Mapped[str] = mapped_column(
        String(64), default=lambda: secrets.token_urlsafe(24)
    )
    # Set while the record is proven; None: pending (never proven) or lapsed (`lapsed_at`).
    verified_at: Mapped[datetime | None] = mapped_column()  # named in the index below
    # The last check, by the admin or the periodic re-check (which picks the oldest first).
    checked_at: Mapped[datetime | None]
    # The first re-check since the last success that found the record gone; the domain
    # lapses once that has lasted the grace period (a DNS glitch does not take pages down).
    missing_since: Mapped[datetime | None]
    lapsed_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_connected_domains_verified_domain",
            func.lower(domain),
            unique=True,
            postgresql_where=verified_at.is_not(None),
        ),
        Index("uq_connected_domains_account_domain", "account_id", func.lower(domain), unique=True),
    )
