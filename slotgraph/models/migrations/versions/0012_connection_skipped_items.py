"""calendar connections count the items their sync could not read and skipped

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-02 20:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calendar_connections",
        sa.Column("skipped_items", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("calendar_connections", "skipped_items")
