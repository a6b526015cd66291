"""bookings: no overlap, outbox, idempotency

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:07:25.176345
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "lost_access_notices",
        sa.Column("host_user_id", sa.BigInteger(), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_user_id"],
            ["users.id"],
            name=op.f("fk_lost_access_notices_host_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["scheduling_pages.id"],
            name=op.f("fk_lost_access_notices_page_id_scheduling_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "host_user_id", "page_id", "day", name=op.f("pk_lost_access_notices")
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "CALENDAR_CREATE",
                "CALENDAR_UPDATE",
                "CALENDAR_DELETE",
                "EMAIL",
                name="outboxkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "PENDING",
                "DONE",
                "FAILED",
                name="outboxstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("booking_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_outbox_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_outbox_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_account_id"), "outbox", ["account_id"], unique=False)
    op.create_index(op.f("ix_outbox_booking_id"), "outbox", ["booking_id"], unique=False)
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at"],
        unique=False,
        postgresql_where="state = 'PENDING'",
    )
    op.add_column("bookings", sa.Column("calendar_write_error", sa.Text(), nullable=True))
    op.add_column("bookings", sa.Column("idempotency_key", sa.String(length=200), nullable=True))
    # Autogenerate does not see these two: written by hand, named as the model names them.
    op.execute(
        "ALTER TABLE bookings ADD CONSTRAINT no_overlapping_bookings EXCLUDE USING gist "
        "(int8range(host_user_id, host_user_id, '[]') WITH &&, "
        "tstzrange(starts_at, ends_at) WITH &&) WHERE (status <> 'CANCELLED')"
    )
    op.create_check_constraint("starts_before_end", "bookings", "starts_at < ends_at")


def downgrade() -> None:

    op.drop_constraint("starts_before_end", "bookings", type_="check")
    op.drop_constraint("no_overlapping_bookings", "bookings")
    op.drop_column("bookings", "idempotency_key")
    op.drop_column("bookings", "calendar_write_error")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where="state = 'PENDING'")
    op.drop_index(op.f("ix_outbox_booking_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_account_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("lost_access_notices")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
