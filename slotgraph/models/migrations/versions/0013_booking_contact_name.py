"""bookings keep the name the contact typed (C26 prefill shows it back to that booking's holder)

Page bookings made before this revision carry the name only inside their title,
"<page title>: <name>"; it is recovered where the page still has that title, and left NULL
(prefill answers an empty name) where it cannot be told for sure.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02 20:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("contact_name", sa.String(length=200), nullable=True))
    op.execute(
        """
        UPDATE bookings AS b
        SET contact_name = left(substr(b.title, length(p.title) + 3), 200)
        FROM scheduling_pages AS p
        WHERE b.page_id = p.id AND starts_with(b.title, p.title || ': ')
        """
    )


def downgrade() -> None:
    op.drop_column("bookings", "contact_name")
