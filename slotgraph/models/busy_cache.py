"""The busy cache: what each remote calendar's free/busy looked like, and when (C16).

Two tables, per remote calendar:

- `busy_cache_windows` says which time was read and when: a row `[window_start, window_end)`
  read at `read_at` means "every busy interval of this calendar inside that window is in
  `busy_cache_intervals`, as of `read_at`". Windows of one calendar never overlap: a newer
  read of an overlapping window trims the older rows (`slotgraph.calendars.busy_cache` owns that).
- `busy_cache_intervals` holds the busy spans, half-open `[starts_at, ends_at)`, aware UTC.

Who writes what:

- Live free/busy reads (availableSlots, bookMeeting) replace the read window atomically:
  the window's rows and the snapshot intervals inside it (`source_event_id IS NULL`) are
  replaced in one transaction. A free/busy answer has no event ids, hence NULL.
- The sync engine (C16) is meant to maintain the cache per event instead: its rows
  carry the provider's event id in `source_event_id` (unique per calendar), so a changed
  event updates one row and a removed event deletes it; snapshot replacement never touches
  those rows. It records the span it keeps in sync as a window with `read_at` = the time of
  its last successful incremental sync. Readers treat both kinds alike (a union of busy
  time, where a duplicate costs nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import Base
from slotgraph.models.base import IntPk
from slotgraph.models.base import reference_column


class BusyCacheWindow(Base):
    """A span of one calendar's time that was read, and when it was read."""

    __tablename__ = "busy_cache_windows"

    id: Mapped[IntPk]
    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    read_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("window_start < window_end", name="window_not_empty"),
        Index("ix_busy_cache_windows_calendar_start", "remote_calendar_id", "window_start"),
    )


class BusyCacheInterval(Base):
    """One busy span of one calendar: from a free/busy snapshot (no event id) or, once the
    sync engine maintains the cache, from one event (`source_event_id`)."""

    __tablename__ = "busy_cache_intervals"

    id: Mapped[IntPk]
    remote_calendar_id: Mapped[int] = reference_column("remote_calendars.id")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    source_event_id: Mapped[str | None] = mapped_column(String(1024))

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="interval_not_empty"),
        Index("ix_busy_cache_intervals_calendar_start", "remote_calendar_id", "starts_at"),
        Index(
            "uq_busy_cache_intervals_calendar_event",
            "remote_calendar_id",
            "source_event_id",
            unique=True,
            postgresql_where=text("source_event_id IS NOT NULL"),
        ),
    )
