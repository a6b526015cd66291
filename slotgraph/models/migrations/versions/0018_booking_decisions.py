"""bookings: DECLINED (C20, C42) frees its time like CANCELLED; booking events (C21, C22)

A declined request keeps when, by whom (HOST, or SYSTEM when unanswered at its start) and
why; the exclusion constraint ignores DECLINED as it ignores CANCELLED, so declined time can
be booked again. `booking_events` holds one row per thing that happened to a booking,
written in the transaction that made it; the `bookingEvents` subscription reads it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 07:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ACTORS = ("HOST", "CONTACT", "SYSTEM")
_KINDS = ("CREATED", "REQUESTED", "CONFIRMED", "DECLINED", "RESCHEDULED", "CANCELLED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _checked(name: str, values: tuple[str, ...], *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=32),
        nullable=nullable,
    )


def _overlap(statuses: str) -> None:
    op.drop_constraint("no_overlapping_bookings", "bookings")
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT no_overlapping_bookings EXCLUDE USING gist "
        "(int8range(host_user_id, host_user_id, '[]') WITH &&, "
        f"tstzrange(starts_at, ends_at) WITH &&) WHERE (status NOT IN ({statuses}))"
    )


def upgrade() -> None:
    op.drop_constraint(op.f("ck_bookings_bookingstatus"), "bookings", type_="check")
    op.create_check_constraint(
        op.f("ck_bookings_bookingstatus"),
        "bookings",
        _in("status", ("REQUESTED", "CONFIRMED", "CANCELLED", "DECLINED")),
    )
    _overlap("'CANCELLED', 'DECLINED'")
    op.add_column("bookings", sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bookings", _checked("declined_by", _ACTORS, nullable=True))
    op.create_check_constraint(
        op.f("ck_bookings_bookingactor"), "bookings", _in("declined_by", _ACTORS)
    )
    op.add_column("bookings", sa.Column("decline_reason", sa.Text(), nullable=True))
    op.create_table(
        "booking_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("booking_id", sa.BigInteger(), nullable=False),
        sa.Column("host_user_id", sa.BigInteger(), nullable=False),
        _checked("kind", _KINDS),
        _checked("actor", _ACTORS),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_booking_events_bookingeventkind")),
        sa.CheckConstraint(_in("actor", _ACTORS), name=op.f("ck_booking_events_bookingactor")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_booking_events_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_events_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_user_id"],
            ["users.id"],
            name=op.f("fk_booking_events_host_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
    )
    op.create_index(op.f("ix_booking_events_account_id"), "booking_events", ["account_id"])
    op.create_index(op.f("ix_booking_events_booking_id"), "booking_events", ["booking_id"])
    op.create_index("ix_booking_events_host_user_id_id", "booking_events", ["host_user_id", "id"])


def downgrade() -> None:
    op.drop_table("booking_events")
    op.execute("UPDATE bookings SET status = 'CANCELLED' WHERE status = 'DECLINED'")
    op.drop_column("bookings", "decline_reason")
    op.drop_constraint(op.f("ck_bookings_bookingactor"), "bookings", type_="check")
    op.drop_column("bookings", "declined_by")
    op.drop_column("bookings", "declined_at")
    _overlap("'CANCELLED'")
    op.drop_constraint(op.f("ck_bookings_bookingstatus"), "bookings", type_="check")
    op.create_check_constraint(
        op.f("ck_bookings_bookingstatus"),
        "bookings",
        _in("status", ("REQUESTED", "CONFIRMED", "CANCELLED")),
    )
