"""bookings: the contact's language (C43, C19) and the last email's failure (C21); the
outbox kind BOOKING_EMAIL (one email per booking event, rendered when it is sent)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

KINDS = ("CALENDAR_CREATE", "CALENDAR_UPDATE", "CALENDAR_DELETE", "EMAIL", "TASK_EVENT", "WEBHOOK")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_outbox_outboxkind"), "outbox", type_="check")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(op.f("ck_outbox_outboxkind"), "outbox", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds((*KINDS, "BOOKING_EMAIL"))
    op.add_column("bookings", sa.Column("contact_language", sa.String(8), nullable=True))
    op.add_column("bookings", sa.Column("email_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("bookings", "email_error")
    op.drop_column("bookings", "contact_language")
    op.execute("DELETE FROM outbox WHERE kind = 'BOOKING_EMAIL'")
    _kinds(KINDS)
