"""Alembic environment: runs on the connection handed in by `slotgraph.models.db.migrate`."""

from __future__ import annotations

from alembic import context

from slotgraph.models import Base
from slotgraph.models.queue import include_object

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    include_object=include_object,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
