"""Scheduling pages: what a contact books, and the rules that shape its slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import Base
from slotgraph.models.base import UserRow


class SchedulingPage(UserRow, Base):
    """`slug` is the whole path after `/meetings/` (prefix/name), unique across every domain
    (S15); `url_prefix` records the prefix in force when the page was created (S14)."""

    __tablename__ = "scheduling_pages"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    url_prefix: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(200))
    durations_minutes: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    slot_interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    booking_window_days: Mapped[int] = mapped_column(Integer, default=60)
    max_meetings_per_day: Mapped[int | None] = mapped_column(Integer)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    weekly_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    date_overrides: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    form_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        Index("uq_scheduling_pages_slug", func.lower(slug), unique=True),
        Index("ix_scheduling_pages_user_id_id", "user_id", "id"),
    )
