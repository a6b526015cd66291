"""accounts: user roles and deactivation, the account's plan, token expiry and last use

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-02 20:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def _checked(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "role", _checked("role", "ADMIN", "MEMBER"), server_default="MEMBER", nullable=False
        ),
    )
    op.alter_column("users", "role", server_default=None)
    op.add_column("users", sa.Column("deactivated_at", _WHEN, nullable=True))
    op.add_column(
        "accounts",
        sa.Column(
            "plan_tier",
            _checked("tier", "FREE", "STARTER", "PROFESSIONAL", "ENTERPRISE"),
            server_default="ENTERPRISE",
            nullable=False,
        ),
    )
    op.alter_column("accounts", "plan_tier", server_default=None)
    op.add_column("accounts", sa.Column("sales_seats", sa.Integer(), nullable=True))
    op.add_column("accounts", sa.Column("service_seats", sa.Integer(), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", _WHEN, nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", _WHEN, nullable=True))


def downgrade() -> None:
    op.drop_column("api_tokens", "last_used_at")
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("accounts", "service_seats")
    op.drop_column("accounts", "sales_seats")
    op.drop_column("accounts", "plan_tier")
    op.drop_column("users", "deactivated_at")
    op.drop_column("users", "role")
