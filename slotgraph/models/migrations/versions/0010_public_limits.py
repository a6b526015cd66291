"""limits on public operations: shared counters (C25, C33) and the host's bot-check setting (C34)

Revision ID: 0010
Revises: 0014
Create Date: 2026-12-02 19:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_limit_counters")),
    )
    op.create_index("ix_limit_counters_window_ends_at", "limit_counters", ["window_ends_at"])
    op.add_column(
        "calendar_settings",
        sa.Column("bot_check_required", sa.Boolean(), server_default="false", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("calendar_settings", "bot_check_required")
    op.drop_index("ix_limit_counters_window_ends_at", table_name="limit_counters")
    op.drop_table("limit_counters")
