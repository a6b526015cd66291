"""Per-user calendar settings shown on the settings screen (S14, S15, S17, S18)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from slotgraph.models.base import AccountId
from slotgraph.models.base import Base
from slotgraph.models.base import reference_column


class CalendarSettings(Base):
    """One row per user, created with the user."""

    __tablename__ = "calendar_settings"

    user_id: Mapped[int] = reference_column("users.id", primary_key=True)
    account_id: Mapped[AccountId]
    meeting_url_prefix: Mapped[str] = mapped_column(String(64))
    default_page_id: Mapped[int | None] = reference_column(
        "scheduling_pages.id", ondelete="SET NULL"
    )
    meeting_domain_id: Mapped[int | None] = reference_column(
        "connected_domains.id", ondelete="SET NULL"
    )
    pages_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    chat_link_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    chat_page_id: Mapped[int | None] = reference_column("scheduling_pages.id", ondelete="SET NULL")
    # C34: anonymous bookings of this user's pages need a verified bot-check token.
    bot_check_required: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
