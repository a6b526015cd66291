"""webhooks for partner apps: endpoints, deliveries and their attempts, outbox kind WEBHOOK
(C22, C38)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KINDS = ("CALENDAR_CREATE", "CALENDAR_UPDATE", "CALENDAR_DELETE", "EMAIL", "TASK_EVENT")
_WHEN = sa.DateTime(timezone=True)


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_outbox_outboxkind"), "outbox", type_="check")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(op.f("ck_outbox_outboxkind"), "outbox", f"kind IN ({listed})")


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False)


def _ref(
    table: str, name: str, target: str, *, nullable: bool = False, ondelete: str = "CASCADE"
) -> sa.Column[int]:
    """A bigint foreign key named as `models.base.NAMING_CONVENTION` names it."""
    referred = target.split(".", 1)[0]
    key = sa.ForeignKey(target, ondelete=ondelete, name=op.f(f"fk_{table}_{name}_{referred}"))
    return sa.Column(name, sa.BigInteger(), key, nullable=nullable)


def upgrade() -> None:
    _kinds((*KINDS, "WEBHOOK"))
    op.create_table(
        "webhook_endpoints",
        _id(),
        _ref("webhook_endpoints", "account_id", "accounts.id"),
        _ref("webhook_endpoints", "user_id", "users.id"),
        sa.Column("account_wide", sa.Boolean(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("secrets", sa.LargeBinary(), nullable=False),
        sa.Column("disabled_at", _WHEN, nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("failing_since", _WHEN, nullable=True),
        sa.Column("created_at", _WHEN, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(op.f("ix_webhook_endpoints_account_id"), "webhook_endpoints", ["account_id"])
    op.create_index(op.f("ix_webhook_endpoints_user_id"), "webhook_endpoints", ["user_id"])
    op.create_table(
        "webhook_deliveries",
        _id(),
        _ref("webhook_deliveries", "account_id", "accounts.id"),
        _ref("webhook_deliveries", "endpoint_id", "webhook_endpoints.id"),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "PENDING",
                "DELIVERED",
                "FAILED",
                name="webhookdeliverystate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", _WHEN, nullable=True),
        _ref("webhook_deliveries", "outbox_id", "outbox.id", nullable=True, ondelete="SET NULL"),
        sa.Column("window_started_at", _WHEN, nullable=False),
        sa.Column("created_at", _WHEN, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_webhook_deliveries_message_id")),
    )
    op.create_index(op.f("ix_webhook_deliveries_account_id"), "webhook_deliveries", ["account_id"])
    op.create_index(
        op.f("ix_webhook_deliveries_endpoint_id"), "webhook_deliveries", ["endpoint_id"]
    )
    op.create_table(
        "webhook_attempts",
        _id(),
        _ref("webhook_attempts", "delivery_id", "webhook_deliveries.id"),
        sa.Column("attempted_at", _WHEN, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.execute("DELETE FROM outbox WHERE kind = 'WEBHOOK'")
    _kinds(KINDS)
