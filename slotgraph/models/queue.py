"""The job queue's tables: created by migration 0004 from pgqueuer's own schema and read and
written only by pgqueuer's SQL (`slotgraph.jobs.queue`), so they are not mapped here. Autogenerate
and the drift test leave them alone through `include_object`."""

from __future__ import annotations

from typing import Any

QUEUE_TABLES = frozenset({"pgqueuer", "pgqueuer_log", "pgqueuer_schedules", "pgqueuer_statistics"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: everything but pgqueuer's tables (and their indexes)."""
    if type_ == "table":
        return name not in QUEUE_TABLES
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in QUEUE_TABLES
