"""CalDAV connections (C28): the provider enum takes CALDAV, and remote calendars keep the
colour the server shows them in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 06:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# The provider enum is a VARCHAR with a CHECK constraint (native_enum=False) on each table.
TABLES = ("calendar_connections", "oauth_flows", "calendar_watches")
BEFORE = ("GOOGLE", "MICROSOFT365", "EXCHANGE")
AFTER = (*BEFORE, "CALDAV")


def _check(values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{v}'" for v in values)
    for table in TABLES:
        op.drop_constraint(op.f(f"ck_{table}_provider"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_provider"), table, f"provider IN ({allowed})")


def upgrade() -> None:
    _check(AFTER)
    op.add_column("remote_calendars", sa.Column("color", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("remote_calendars", "color")
    op.execute("DELETE FROM calendar_watches WHERE provider = 'CALDAV'")
    op.execute("DELETE FROM oauth_flows WHERE provider = 'CALDAV'")
    op.execute("DELETE FROM calendar_connections WHERE provider = 'CALDAV'")
    _check(BEFORE)
