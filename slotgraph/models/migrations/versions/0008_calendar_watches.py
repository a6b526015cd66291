"""push notifications: watch channels and subscriptions per remote calendar

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_watches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("connection_id", sa.BigInteger(), nullable=False),
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum(
                "GOOGLE",
                "MICROSOFT365",
                "EXCHANGE",
                name="provider",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("resource_id", sa.String(length=500), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_calendar_watches_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_calendar_watches_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_watches")),
        sa.UniqueConstraint("provider", "remote_id", name=op.f("uq_calendar_watches_provider")),
    )
    op.create_index(
        op.f("ix_calendar_watches_connection_id"),
        "calendar_watches",
        ["connection_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_watches_remote_calendar_id"),
        "calendar_watches",
        ["remote_calendar_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_watches_expires_at"), "calendar_watches", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_watches_expires_at"), table_name="calendar_watches")
    op.drop_index(op.f("ix_calendar_watches_remote_calendar_id"), table_name="calendar_watches")
    op.drop_index(op.f("ix_calendar_watches_connection_id"), table_name="calendar_watches")
    op.drop_table("calendar_watches")
