"""Scheduling page types: the owner's view and the public (anonymous) view."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING
from typing import Any

import strawberry

from slotgraph.graph.context import Info
from slotgraph.graph.relay import Node
from slotgraph.graph.relay import to_global_id
from slotgraph.graph.rows import from_columns
from slotgraph.limits.botcheck import BotCheckVerifier
from slotgraph.scheduling import forms
from slotgraph.scheduling.rules import Weekday as RuleWeekday
from slotgraph.usecases.embedding import page_embedding
from slotgraph.usecases.pages import page_url

if TYPE_CHECKING:
    from slotgraph.models import SchedulingPage as PageRow
    from slotgraph.usecases.pages import PublicPage

Weekday = strawberry.enum(RuleWeekday, name="Weekday")
FormFieldKind = strawberry.enum(
    forms.FieldKind,
    name="FormFieldKind",
    description="SHORT_TEXT (200 characters), LONG_TEXT (2,000), PHONE, SINGLE_CHOICE (one "
    "of `options`), CHECKBOX (answered true or false; a required one must be ticked).",
)


@strawberry.type(description="A question of the booking form; answers are keyed by `key`.")
class FormField:
    key: str
    label: str
    kind: FormFieldKind  # type: ignore[valid-type]
    required: bool
    options: list[str] = strawberry.field(description="SINGLE_CHOICE only; [] otherwise.")


def _form(rows: list[dict[str, Any]]) -> list[FormField]:
    return [
        FormField(
            key=item.key,
            label=item.label,
            kind=item.kind,
            required=item.required,
            options=list(item.options),
        )
        for item in map(forms.FormField.from_json, rows)
    ]


@strawberry.type(description="Bookable hours on one weekday, in the page's time zone.")
class WeeklyHours:
    weekday: Weekday  # type: ignore[valid-type]
    start: str = strawberry.field(description="HH:MM, inclusive.")
    end: str = strawberry.field(description="HH:MM, exclusive; 24:00 is midnight.")


@strawberry.type(description="Replaces the weekly hours on one date; none means unavailable.")
class DateOverride:
    date: dt.date
    intervals: list[list[str]]


def _weekly(rows: list[dict[str, Any]]) -> list[WeeklyHours]:
    return [
        WeeklyHours(weekday=RuleWeekday[row["weekday"]], start=row["start"], end=row["end"])
        for row in rows
    ]


def _overrides(rows: list[dict[str, Any]]) -> list[DateOverride]:
    return [
        DateOverride(date=dt.date.fromisoformat(row["date"]), intervals=row["intervals"])
        for row in rows
    ]


@strawberry.type(description="A scheduling page owned by the viewer.")
class SchedulingPage(Node):
    pk: strawberry.Private[int]
    title: str
    description: str
    slug: str = strawberry.field(description="The path after /meetings/, unique on all domains.")
    url: str = strawberry.field(description="The full public link, on the meeting domain.")
    url_prefix: str
    durations: list[int] = strawberry.field(description="Meeting lengths offered, minutes.")
    slot_interval: int
    buffer_before: int
    buffer_after: int
    minimum_notice: int
    booking_window_days: int
    max_meetings_per_day: int | None
    time_zone: str | None = strawberry.field(description="Null: the host's time zone.")
    weekly_hours: list[WeeklyHours]
    date_overrides: list[DateOverride]
    form_fields: list[FormField] = strawberry.field(
        description="The booking form's questions besides name and email, in order."
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: PageRow, base_url: str) -> SchedulingPage:
        return from_columns(
            cls,
            row,
            url=page_url(base_url, row.slug),
            durations=row.durations_minutes,
            slot_interval=row.slot_interval_minutes,
            buffer_before=row.buffer_before_minutes,
            buffer_after=row.buffer_after_minutes,
            minimum_notice=row.minimum_notice_minutes,
            weekly_hours=_weekly(row.weekly_hours),
            date_overrides=_overrides(row.date_overrides),
            form_fields=_form(row.form_fields),
        )


async def load_page(info: Info, page_pk: int | None, host_pk: int) -> SchedulingPage | None:
    """A page of `host_pk` by id through the loaders, with its link on the host's domain."""
    if page_pk is None:
        return None
    loaders = info.context.loaders
    row = await loaders.pages.load(page_pk)
    if row is None:
        return None
    return SchedulingPage.from_row(row, await loaders.base_urls.load(host_pk))


@strawberry.enum
class PageUnavailableReason(enum.Enum):
    PAGES_TURNED_OFF = "PAGES_TURNED_OFF"
    HOST_ACCESS_LOST = "HOST_ACCESS_LOST"
    HOST_DEACTIVATED = "HOST_DEACTIVATED"


BotCheckVerifierType = strawberry.enum(
    BotCheckVerifier, name="BotCheckVerifier", description="Cloudflare Turnstile or hCaptcha."
)


@strawberry.type(
    description="The bot check a booking page shows (C34): render the verifier's widget with "
    "`siteKey` and send its token as bookMeeting's `botCheckToken`."
)
class BotCheckChallenge:
    verifier: BotCheckVerifierType  # type: ignore[valid-type]
    site_key: str


@strawberry.type(
    description="Where the page may show beyond its own tab: framed by other sites (its "
    "embed) and indexed by search engines (S15)."
)
class PageEmbedding:
    frame_ancestors: list[str] = strawberry.field(
        description="The origins allowed to show the page's embed in an iframe (CSP "
        "frame-ancestors): the app's and its account's connected domains' (C40)."
    )
    indexable: bool = strawberry.field(
        description="False when the domain asked on keeps meeting pages out of search "
        "engines (S15): render it with noindex."
    )


@strawberry.type(description="What a contact sees of a scheduling page.")
class PublicSchedulingPage:
    id: strawberry.ID
    title: str
    description: str
    slug: str
    url: str
    durations: list[int]
    host_name: str
    time_zone: str
    host_locale: str = strawberry.field(
        description="The host's locale (BCP 47): a page's language when the contact states "
        "none (C19)."
    )
    form_fields: list[FormField] = strawberry.field(
        description="The questions to ask besides name and email, in order."
    )
    offline: bool = strawberry.field(
        description="The host has no calendar taking bookings (S7, C5): a booking is a "
        "request the host confirms, on no calendar."
    )
    host_pk: strawberry.Private[int]
    account_pk: strawberry.Private[int]
    asked_domain: strawberry.Private[str | None]

    @strawberry.field(description="Framing and indexing of the page on the domain asked.")
    async def embedding(self, info: Info) -> PageEmbedding:
        found = await page_embedding(info.context.services, self.account_pk, self.asked_domain)
        return PageEmbedding(frame_ancestors=list(found.frame_ancestors), indexable=found.indexable)

    @strawberry.field(description="The bot check its host asks of bookings (C34); null: none.")
    async def bot_check(self, info: Info) -> BotCheckChallenge | None:
        limits = info.context.services.limits
        if limits.bot_check is None or not await limits.bot_check_required(self.host_pk):
            return None
        return BotCheckChallenge(
            verifier=limits.bot_check.verifier, site_key=limits.bot_check.site_key
        )

    @classmethod
    def from_public(cls, public: PublicPage, domain: str | None = None) -> PublicSchedulingPage:
        page = public.page
        return cls(
            id=to_global_id("SchedulingPage", page.id),
            title=page.title,
            description=page.description,
            slug=page.slug,
            url=page_url(public.base_url, page.slug),
            durations=page.durations_minutes,
            host_name=public.host.name,
            time_zone=page.time_zone or public.host.time_zone,
            host_locale=public.host.locale,
            form_fields=_form(page.form_fields),
            offline=public.offline,
            host_pk=public.host.id,
            account_pk=page.account_id,
            asked_domain=domain,
        )
