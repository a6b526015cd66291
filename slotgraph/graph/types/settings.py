"""The calendar settings screen (S14, S15, S17, S18)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.relay import to_global_id
from slotgraph.graph.rows import from_columns
from slotgraph.graph.rows import load_one
from slotgraph.graph.types.accounts import ConnectedDomain
from slotgraph.graph.types.pages import SchedulingPage
from slotgraph.graph.types.pages import load_page

if TYPE_CHECKING:
    from slotgraph.models import CalendarSettings as SettingsRow


@strawberry.type(description="A user's calendar settings; saved with updateCalendarSettings.")
class CalendarSettings(Node):
    user_pk: strawberry.Private[int]
    default_page_pk: strawberry.Private[int | None]
    chat_page_pk: strawberry.Private[int | None]
    domain_pk: strawberry.Private[int | None]
    meeting_url_prefix: str = strawberry.field(
        description="Prefix of new pages' links; existing pages keep theirs (S14)."
    )
    scheduling_pages_enabled: bool = strawberry.field(
        description="Off: every page is unreachable but kept (S17)."
    )
    chat_link_enabled: bool
    bot_check_required: bool = strawberry.field(
        description="Anonymous bookings of your pages need a bot check (C34)."
    )
    updated_at: dt.datetime

    @strawberry.field(description="The page sales email templates insert (S14).")
    async def default_meeting_page(self, info: Info) -> SchedulingPage | None:
        return await load_page(info, self.default_page_pk, self.user_pk)

    @strawberry.field(description="The page the chat widget links to (S18).")
    async def chat_page(self, info: Info) -> SchedulingPage | None:
        return await load_page(info, self.chat_page_pk, self.user_pk)

    @strawberry.field(
        description="The link the chat widget's profile shows (S18): the chosen page's booking "
        "page, on the meeting domain; null while the chat link is off."
    )
    async def chat_link_url(self, info: Info) -> str | None:
        if not self.chat_link_enabled:
            return None
        page = await load_page(info, self.chat_page_pk, self.user_pk)
        return None if page is None else page.url

    @strawberry.field(description="Null: pages are served on the app domain (S15).")
    async def meeting_domain(self, info: Info) -> ConnectedDomain | None:
        return await load_one(
            info.context.loaders.domains, self.domain_pk, ConnectedDomain.from_row
        )

    @strawberry.field(description="Where this user's meeting links start (S15).")
    async def meeting_base_url(self, info: Info) -> str:
        return await info.context.loaders.base_urls.load(self.user_pk)

    @classmethod
    def from_row(cls, row: SettingsRow) -> CalendarSettings:
        return from_columns(
            cls,
            row,
            id=to_global_id("CalendarSettings", row.user_id),
            user_pk=row.user_id,
            default_page_pk=row.default_page_id,
            chat_page_pk=row.chat_page_id,
            domain_pk=row.meeting_domain_id,
            scheduling_pages_enabled=row.pages_enabled,
        )
