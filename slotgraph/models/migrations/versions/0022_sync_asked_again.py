"""calendar_connections: whether a sync was asked for (a push, `syncCalendarConnection`)
while a run held the connection, so the run's end keeps it due instead of scheduling the
next sync an interval later (the ask would otherwise be lost: its job was merged into the
running one, or found the lease taken)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calendar_connections",
        sa.Column("sync_asked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("calendar_connections", "sync_asked")
