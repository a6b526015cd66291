"""The counters behind the strict limits on public operations (C25, C33): one row per key
and window, counted by `slotgraph.limits.counters` with one atomic upsert, so every API
process shares them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import Base


class LimitCounter(Base):
    """Hits of one key (an operation and what it is counted by) in its current window."""

    __tablename__ = "limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
    window_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("ix_limit_counters_window_ends_at", "window_ends_at"),)
