"""calendar sync: cursors, synced events, connection schedule and lease

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calendar_connections",
        sa.Column(
            "next_sync_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
    )
    op.add_column(
        "calendar_connections", sa.Column("sync_claimed_by", sa.String(length=200), nullable=True)
    )
    op.add_column(
        "calendar_connections",
        sa.Column("sync_claimed_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "calendar_connections",
        sa.Column("sync_attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index(
        op.f("ix_calendar_connections_next_sync_at"),
        "calendar_connections",
        ["next_sync_at"],
        unique=False,
    )
    op.create_table(
        "calendar_sync_cursors",
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("page_token", sa.Text(), nullable=True),
        sa.Column("full_listing", sa.Boolean(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_calendar_sync_cursors_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("remote_calendar_id", name=op.f("pk_calendar_sync_cursors")),
    )
    op.create_table(
        "synced_events",
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("remote_event_id", sa.String(length=1024), nullable=False),
        sa.Column("busy_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("busy_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_synced_events_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "remote_calendar_id", "remote_event_id", name=op.f("pk_synced_events")
        ),
    )
    op.create_index(
        "ix_synced_events_calendar_busy",
        "synced_events",
        ["remote_calendar_id", "busy_start"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_synced_events_calendar_busy", table_name="synced_events")
    op.drop_table("synced_events")
    op.drop_table("calendar_sync_cursors")
    op.drop_index(op.f("ix_calendar_connections_next_sync_at"), table_name="calendar_connections")
    op.drop_column("calendar_connections", "sync_attempts")
    op.drop_column("calendar_connections", "sync_claimed_until")
    op.drop_column("calendar_connections", "sync_claimed_by")
    op.drop_column("calendar_connections", "next_sync_at")
