"""connections: oauth flows, legacy dual flag

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:49:20.662179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "oauth_flows",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum(
                "GOOGLE",
                "MICROSOFT365",
                "EXCHANGE",
                name="provider",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_oauth_flows_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_flows_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_flows")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_flows_state_hash")),
    )
    op.create_index(op.f("ix_oauth_flows_account_id"), "oauth_flows", ["account_id"], unique=False)
    op.create_index(op.f("ix_oauth_flows_user_id"), "oauth_flows", ["user_id"], unique=False)
    op.add_column(
        "users", sa.Column("dual_connections_ended_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:

    op.drop_column("users", "dual_connections_ended_at")
    op.drop_index(op.f("ix_oauth_flows_user_id"), table_name="oauth_flows")
    op.drop_index(op.f("ix_oauth_flows_account_id"), table_name="oauth_flows")
    op.drop_table("oauth_flows")
