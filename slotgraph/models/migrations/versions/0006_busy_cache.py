"""busy cache: windows read and busy intervals per remote calendar (C16)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "busy_cache_windows",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "window_start < window_end", name=op.f("ck_busy_cache_windows_window_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_busy_cache_windows_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_busy_cache_windows")),
    )
    op.create_index(
        "ix_busy_cache_windows_calendar_start",
        "busy_cache_windows",
        ["remote_calendar_id", "window_start"],
        unique=False,
    )
    op.create_table(
        "busy_cache_intervals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_event_id", sa.String(length=1024), nullable=True),
        sa.CheckConstraint(
            "starts_at < ends_at", name=op.f("ck_busy_cache_intervals_interval_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_busy_cache_intervals_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_busy_cache_intervals")),
    )
    op.create_index(
        "ix_busy_cache_intervals_calendar_start",
        "busy_cache_intervals",
        ["remote_calendar_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        "uq_busy_cache_intervals_calendar_event",
        "busy_cache_intervals",
        ["remote_calendar_id", "source_event_id"],
        unique=True,
        postgresql_where=sa.text("source_event_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_busy_cache_intervals_calendar_event", table_name="busy_cache_intervals")
    op.drop_index("ix_busy_cache_intervals_calendar_start", table_name="busy_cache_intervals")
    op.drop_table("busy_cache_intervals")
    op.drop_index("ix_busy_cache_windows_calendar_start", table_name="busy_cache_windows")
    op.drop_table("busy_cache_windows")
