"""task sync: the task sub-calendar flag, task event bookkeeping and soft deletion

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = ("CALENDAR_CREATE", "CALENDAR_UPDATE", "CALENDAR_DELETE", "EMAIL")


def _kinds(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_outbox_outboxkind"), "outbox", type_="check")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(op.f("ck_outbox_outboxkind"), "outbox", f"kind IN ({listed})")


def upgrade() -> None:
    _kinds((*KINDS, "TASK_EVENT"))
    op.add_column(
        "remote_calendars",
        sa.Column("is_task_calendar", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("tasks", sa.Column("remote_calendar_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_tasks_remote_calendar_id_remote_calendars"),
        "tasks",
        "remote_calendars",
        ["remote_calendar_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("tasks", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "tasks", sa.Column("event_generation", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'TASK_EVENT'")
    _kinds(KINDS)
    op.drop_column("tasks", "event_generation")
    op.drop_column("tasks", "revision")
    op.drop_column("tasks", "deleted_at")
    op.drop_constraint(
        op.f("fk_tasks_remote_calendar_id_remote_calendars"), "tasks", type_="foreignkey"
    )
    op.drop_column("tasks", "remote_calendar_id")
    op.drop_column("remote_calendars", "is_task_calendar")
