"""bookings: the contact's manage link, sealed (C21, C41), so every email to the contact
carries it, not only the first; filled from the first email's outbox payload, which held
the same ciphertext until now

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("manage_url_sealed", sa.LargeBinary(), nullable=True))
    op.execute(
        """
        UPDATE bookings SET manage_url_sealed = decode(outbox.payload->>'manage_url', 'base64')
        FROM outbox
        WHERE outbox.booking_id = bookings.id
          AND outbox.kind = 'BOOKING_EMAIL'
          AND outbox.payload ? 'manage_url'
        """
    )
    op.execute(
        "UPDATE outbox SET payload = payload - 'manage_url' "
        "WHERE kind = 'BOOKING_EMAIL' AND payload ? 'manage_url'"
    )


def downgrade() -> None:
    op.drop_column("bookings", "manage_url_sealed")
