"""idempotency claims: a key is claimed before its work, so calls with one key serialise

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-02 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A claimed key has no response until its call completes (C12).
    op.alter_column(
        "idempotency_keys",
        "response",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=True,
    )
    op.add_column("idempotency_keys", sa.Column("claim_token", sa.String(length=32)))
    op.add_column(
        "idempotency_keys",
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE response IS NULL")
    op.drop_column("idempotency_keys", "claimed_at")
    op.drop_column("idempotency_keys", "claim_token")
    op.alter_column(
        "idempotency_keys",
        "response",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
    )
