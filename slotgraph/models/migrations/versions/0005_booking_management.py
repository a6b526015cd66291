"""bookings: calendar flag, contact manage token, integration origin

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 05:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "bookings",
        sa.Column("on_calendar", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Bookings made before this column: CONFIRMED ones were queued for the calendar.
    op.execute("UPDATE bookings SET on_calendar = (status = 'CONFIRMED')")
    op.alter_column("bookings", "on_calendar", server_default=None)
    op.add_column("bookings", sa.Column("manage_token_hash", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        op.f("uq_bookings_manage_token_hash"), "bookings", ["manage_token_hash"]
    )
    op.add_column("bookings", sa.Column("integration", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("bookings", "integration")
    op.drop_constraint(op.f("uq_bookings_manage_token_hash"), "bookings", type_="unique")
    op.drop_column("bookings", "manage_token_hash")
    op.drop_column("bookings", "on_calendar")
