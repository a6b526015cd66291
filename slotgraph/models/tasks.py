"""CRM tasks, which task sync mirrors into a sub-calendar (S10).

A deleted task stays as a row (`deleted_at`) until its event is gone, so the outbox can
still find the event to delete. `revision` counts writes: a delivery that finds it changed
since it read the task delivers again, so racing writes converge. `event_generation` counts
events deleted: the next event gets a fresh idempotency key (providers keep a deleted
event's id reserved)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import Base
from slotgraph.models.base import UserRow
from slotgraph.models.base import reference_column


class Task(UserRow, Base):
    __tablename__ = "tasks"

    contact_id: Mapped[int | None] = reference_column("contacts.id", ondelete="SET NULL")
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    remote_event_id: Mapped[str | None] = mapped_column(Text)
    # Task sync (S10): where the event lives, and the bookkeeping described above.
    remote_calendar_id: Mapped[int | None] = reference_column(
        "remote_calendars.id", ondelete="SET NULL"
    )
    deleted_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    event_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
