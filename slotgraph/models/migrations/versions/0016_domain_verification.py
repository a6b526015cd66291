"""connected domains: DNS TXT proof of ownership, periodic re-check, lapse (C40)

Domains connected before this revision keep serving (`verified_at` = their creation), so an
upgrade takes no page down; `checked_at` stays NULL, so the periodic re-check looks at them
first and they lapse after the grace period unless their admin publishes the TXT record
their `verificationRecord` names. The domain stays unique among *verified* domains only, so
nobody can block a domain by adding it without proving it.

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-03 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0010"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)
_TABLE = "connected_domains"


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column("verification_token", sa.String(length=64), server_default="", nullable=False),
    )
    op.alter_column(_TABLE, "verification_token", server_default=None)
    for column in ("verified_at", "checked_at", "missing_since", "lapsed_at"):
        op.add_column(_TABLE, sa.Column(column, _WHEN, nullable=True))
    op.execute(
        "UPDATE connected_domains SET verified_at = created_at,"
        " verification_token = replace(gen_random_uuid()::text, '-', '')"
    )
    op.drop_index("uq_connected_domains_domain", table_name=_TABLE)
    op.create_index(
        "uq_connected_domains_verified_domain",
        _TABLE,
        [sa.literal_column("lower(domain)")],
        unique=True,
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    )
    op.create_index(
        "uq_connected_domains_account_domain",
        _TABLE,
        ["account_id", sa.literal_column("lower(domain)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_connected_domains_account_domain", table_name=_TABLE)
    op.drop_index("uq_connected_domains_verified_domain", table_name=_TABLE)
    # Several accounts may hold the same pending domain; only verified rows fit the old index.
    op.execute("DELETE FROM connected_domains WHERE verified_at IS NULL")
    op.create_index(
        "uq_connected_domains_domain", _TABLE, [sa.literal_column("lower(domain)")], unique=True
    )
    for column in ("lapsed_at", "missing_since", "checked_at", "verified_at", "verification_token"):
        op.drop_column(_TABLE, column)
