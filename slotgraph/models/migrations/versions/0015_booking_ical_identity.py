"""bookings carry their iCalendar identity: a stable UID and a SEQUENCE bumped on every change

Existing bookings get a fresh UID each (their invitations, if any, were the providers').

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-02 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("ical_uid", sa.String(length=255), nullable=True))
    op.add_column(
        "bookings", sa.Column("sequence", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute("UPDATE bookings SET ical_uid = gen_random_uuid()::text || '@slotgraph'")
    op.alter_column("bookings", "ical_uid", nullable=False)
    op.create_unique_constraint(op.f("uq_bookings_ical_uid"), "bookings", ["ical_uid"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_bookings_ical_uid"), "bookings", type_="unique")
    op.drop_column("bookings", "sequence")
    op.drop_column("bookings", "ical_uid")
