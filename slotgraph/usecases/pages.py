"""Scheduling pages: create, update, delete, list, and the public lookup (S7, S14, S15, S17).

A page's booking form fields (`slotgraph.scheduling.forms`) are validated here with its other rules
and stored as JSON; bookMeeting checks answers against them.

Creating and editing pages needs no connected calendar (S7). A page's slug is
`<prefix>/<name>`; the prefix is fixed when the page is created (S14) and the whole slug is
unique across every domain (S15), enforced by a unique index on `lower(slug)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from slotgraph.models import CalendarConnection
from slotgraph.models import CalendarSettings
from slotgraph.models import ConnectedDomain
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Scope
from slotgraph.notices.changes import publish_page_changed
from slotgraph.scheduling import forms
from slotgraph.scheduling import rules
from slotgraph.scheduling import slugs
from slotgraph.usecases.errors import DomainError
from slotgraph.usecases.errors import InvalidInput
from slotgraph.usecases.errors import NotFoundError
from slotgraph.usecases.errors import SlugTakenError
from slotgraph.usecases.scoped_rows import RowLookup
from slotgraph.usecases.scoped_rows import of_user
from slotgraph.usecases.values import KEEP
from slotgraph.usecases.values import Keep
from slotgraph.usecases.verified_domains import verified_domain
from slotgraph.usecases.viewer import Viewer
from slotgraph.usecases.viewer import require_viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from slotgraph.usecases.services import Services

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PageDraft:
    """Fields of a page as sent by the caller; KEEP means "not sent"."""

    title: str | Keep = KEEP
    name: str | Keep = KEEP
    description: str | Keep = KEEP
    durations: list[int] | Keep = KEEP
    slot_interval: int | Keep = KEEP
    buffer_before: int | Keep = KEEP
    buffer_after: int | Keep = KEEP
    minimum_notice: int | Keep = KEEP
    booking_window_days: int | Keep = KEEP
    max_meetings_per_day: int | None | Keep = KEEP
    time_zone: str | None | Keep = KEEP
    weekly_hours: list[rules.WeeklyHours] | Keep = KEEP
    date_overrides: list[rules.DateOverride] | Keep = KEEP
    form_fields: list[forms.FormField] | Keep = KEEP


@dataclass(slots=True)
class PublicPage:
    page: SchedulingPage
    host: User
    base_url: str
    pages_enabled: bool
    # S7: no connection books for the host, so a booking is a request the host confirms.
    offline: bool

    @property
    def form_fields(self) -> list[forms.FormField]:
        return [forms.FormField.from_json(row) for row in self.page.form_fields]


def _validated_columns(draft: PageDraft) -> dict[str, Any]:
    """Column values for every field the draft sends, validated; raises InvalidInput with
    every invalid field at once."""
    columns: dict[str, Any] = {}
    problems = rules.Problems()
    if draft.title is not KEEP:
        title = draft.title.strip()
        if not 1 <= len(title) <= 200:
            problems.add("title", "give a title of 1 to 200 characters")
        columns["title"] = title
    if draft.description is not KEEP:
        if len(draft.description) > 5_000:
            problems.add("description", "at most 5,000 characters")
        columns["description"] = draft.description
    if draft.durations is not KEEP:
        with problems.field():
            columns["durations_minutes"] = rules.check_durations(draft.durations)
    ranges = (
        ("slot_interval", "slotInterval", "slot_interval_minutes", 5, 240, "minutes"),
        ("buffer_before", "bufferBefore", "buffer_before_minutes", 0, 240, "minutes"),
        ("buffer_after", "bufferAfter", "buffer_after_minutes", 0, 240, "minutes"),
        (
            "minimum_notice",
            "minimumNotice",
            "minimum_notice_minutes",
            0,
            60 * 24 * 60,
            "minutes",
        ),
        ("booking_window_days", "bookingWindowDays", "booking_window_days", 1, 730, "days"),
    )
    for attribute, field_name, column, low, high, unit in ranges:
        value = getattr(draft, attribute)
        if value is not KEEP:
            with problems.field():
                columns[column] = rules.check_range(field_name, value, low, high, unit)
    if draft.max_meetings_per_day is not KEEP:
        with problems.field():
            if draft.max_meetings_per_day is not None:
                rules.check_range("maxMeetingsPerDay", draft.max_meetings_per_day, 1, 100, "")
            columns["max_meetings_per_day"] = draft.max_meetings_per_day
    if draft.time_zone is not KEEP:
        with problems.field():
            if draft.time_zone is not None:
                rules.check_time_zone("timeZone", draft.time_zone)
            columns["time_zone"] = draft.time_zone
    if draft.weekly_hours is not KEEP:
        with problems.field():
            rules.check_weekly_hours(draft.weekly_hours)
            columns["weekly_hours"] = [
                {
                    "weekday": h.weekday.name,
                    "start": rules.format_hhmm(h.start),
                    "end": rules.format_hhmm(h.end),
                }
                for h in sorted(draft.weekly_hours, key=lambda h: (h.weekday, h.start))
            ]
    if draft.date_overrides is not KEEP:
        with problems.field():
            rules.check_date_overrides(draft.date_overrides)
            columns["date_overrides"] = [
                {
                    "date": o.date.isoformat(),
                    "intervals": [
                        [rules.format_hhmm(s), rules.format_hhmm(e)] for s, e in sorted(o.intervals)
                    ],
                }
                for o in sorted(draft.date_overrides, key=lambda o: o.date)
            ]
    if draft.form_fields is not KEEP:
        with problems.field():
            columns["form_fields"] = [f.to_json() for f in forms.check_fields(draft.form_fields)]
    if draft.name is not KEEP:
        try:
            columns["name"] = slugs.validate_segment(draft.name)
        except slugs.InvalidSlug as exc:
            problems.add("name", f"The page name {exc}.")
    try:
        problems.check()
    except rules.RuleError as exc:
        raise InvalidInput.of(exc.problems) from None
    return columns


DEFAULTS: dict[str, Any] = {
    "description": "",
    "durations_minutes": [30],
    "slot_interval_minutes": 15,
    "buffer_before_minutes": 0,
    "buffer_after_minutes": 0,
    "minimum_notice_minutes": 0,
    "booking_window_days": 60,
    "max_meetings_per_day": None,
    "time_zone": None,
    "date_overrides": [],
    "form_fields": [],
}


def _default_weekly_hours() -> list[dict[str, str]]:
    return [
        {
            "weekday": h.weekday.name,
            "start": rules.format_hhmm(h.start),
            "end": rules.format_hhmm(h.end),
        }
        for h in rules.DEFAULT_WEEKLY_HOURS
    ]


async def _claim_slug(session: AsyncSession, prefix: str, name: str, field_name: str) -> str:
    """The composed slug if free; otherwise SlugTaken with a free suggestion."""
    slug = slugs.compose(prefix, name)
    taken = set(
        (
            await session.execute(
                select(func.lower(SchedulingPage.slug)).where(
                    func.lower(SchedulingPage.slug).like(f"{slug.lower()}%")
                )
            )
        ).scalars()
    )
    if slug.lower() in taken:
        names = {t.split("/", 1)[-1] for t in taken}
        raise SlugTakenError(slug, slugs.suggest_free(name, names), field=field_name)
    return slug


async def _flush_or_slug_taken(session: AsyncSession, slug: str, name: str, field: str) -> None:
    """Two requests can race past `_claim_slug`; the unique index decides, and the loser
    gets the same typed answer."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_scheduling_pages_slug" in str(exc.orig):
            raise SlugTakenError(slug, slugs.suggest_free(name, {name}), field=field) from None
        raise


async def create_page(
    services: Services, viewer: Viewer | None, draft: PageDraft
) -> SchedulingPage:
    viewer = require_viewer(viewer, Scope.PAGES_WRITE)
    if draft.title is KEEP:
        raise InvalidInput("Give the page a title.", field="title")
    columns = _validated_columns(draft)
    name = columns.pop("name", None) or slugs.slugify(columns["title"])
    async with services.sessionmaker.begin() as session:
        prefix = (
            await session.execute(
                select(CalendarSettings.meeting_url_prefix).where(
                    CalendarSettings.user_id == viewer.user_id
                )
            )
        ).scalar_one()
        slug = await _claim_slug(session, prefix, name, "name")
        page = SchedulingPage(
            account_id=viewer.account_id,
            user_id=viewer.user_id,
            url_prefix=prefix,
            slug=slug,
            **{**DEFAULTS, "weekly_hours": _default_weekly_hours(), **columns},
        )
        session.add(page)
        await _flush_or_slug_taken(session, slug, name, "name")
        await session.refresh(page)
    return page


_PAGES = RowLookup(SchedulingPage, of_user(SchedulingPage.user_id), "scheduling page")


async def update_page(
    services: Services, viewer: Viewer | None, page_id: int, draft: PageDraft
) -> SchedulingPage:
    """Change a page; its subscribers re-read its slots after commit."""
    viewer = require_viewer(viewer, Scope.PAGES_WRITE)
    columns = _validated_columns(draft)
    async with services.sessionmaker.begin() as session:
        page = await _PAGES.one(session, viewer, page_id)
        name = columns.pop("name", None)
        if name is not None:
            slug = slugs.compose(page.url_prefix, name)
            if slug.lower() != page.slug.lower():
                page.slug = await _claim_slug(session, page.url_prefix, name, "name")
            else:
                page.slug = slug
        for column, value in columns.items():
            setattr(page, column, value)
        page.updated_at = services.clock()
        await _flush_or_slug_taken(session, page.slug, name or "", "name")
        await session.refresh(page)
    await publish_page_changed(services.pubsub, [page.id])
    return page


async def delete_page(services: Services, viewer: Viewer | None, page_id: int) -> int:
    """Delete a page; settings that pointed at it fall back (default link cleared, chat link
    turned off), and its bookings stay, detached from the page."""
    viewer = require_viewer(viewer, Scope.PAGES_WRITE)
    async with services.sessionmaker.begin() as session:
        page = await _PAGES.one(session, viewer, page_id)
        await session.execute(
            update(CalendarSettings)
            .where(
                CalendarSettings.user_id == viewer.user_id, CalendarSettings.chat_page_id == page.id
            )
            .values(chat_link_enabled=False, chat_page_id=None)
        )
        await session.execute(delete(SchedulingPage).where(SchedulingPage.id == page.id))
    await publish_page_changed(services.pubsub, [page_id])  # its subscribers end (NotFound)
    return page_id


def base_url(public_base_url: str, domain: str | None) -> str:
    """Where a user's pages live: their meeting domain (S15) or the app's own address."""
    if domain is None:
        return public_base_url
    return f"https://{domain}"


def page_url(base: str, slug: str) -> str:
    return f"{base}/meetings/{slug}"


async def user_base_url(session: AsyncSession, user_id: int, public_base_url: str) -> str:
    domain = (
        await session.execute(
            select(ConnectedDomain.domain)
            .join(CalendarSettings, CalendarSettings.meeting_domain_id == ConnectedDomain.id)
            .where(CalendarSettings.user_id == user_id, verified_domain())
        )
    ).scalar_one_or_none()
    return base_url(public_base_url, domain)


_NO_PUBLIC_PAGE = "No scheduling page at this address; check the meeting link you were given."


def _host_of(public_base_url: str) -> str:
    return (urlsplit(public_base_url).hostname or "").lower()


@cache
def _public_page() -> Select[SchedulingPage, User, bool, bool, str | None]:
    """`get_public_page`'s statement, built once: building it and its cache key again on
    every request cost more than running it (BENCHMARKS.md, shared slot answers)."""
    books_on_calendar = exists().where(
        CalendarConnection.user_id == SchedulingPage.user_id,
        CalendarConnection.status != ConnectionStatus.DISCONNECTED,
        CalendarConnection.scheduling_pages_enabled.is_(True),
    )
    meeting_domain = (
        select(ConnectedDomain.domain)
        .where(ConnectedDomain.id == CalendarSettings.meeting_domain_id, verified_domain())
        .correlate(CalendarSettings)
        .scalar_subquery()
    )
    return (
        select(
            SchedulingPage, User, CalendarSettings.pages_enabled, ~books_on_calendar, meeting_domain
        )
        .join(User, User.id == SchedulingPage.user_id)
        .join(CalendarSettings, CalendarSettings.user_id == SchedulingPage.user_id)
        .where(func.lower(SchedulingPage.slug) == bindparam("slug"))
    )


async def get_public_page(
    services: Services, slug: str, domain: str | None, *, field: str = "pageSlug"
) -> PublicPage:
    """A page as an anonymous contact reaches it. The same page answers on the app domain
    and on every domain its account connected (S15); any other domain does not have it.
    `offline` is read in the same statement, with the notion `slotgraph.usecases.availability`
    books by: no connection that is not DISCONNECTED has scheduling pages on (S7, C5). A
    connection that lost access does count: its page is refused (S13), not offline.
    `field` is the caller's name for the slug, which an unknown page's `NotFound` names
    (`pageSlug` for every operation but `schedulingPage(slug:)`)."""
    public_base_url = services.public_base_url
    async with services.sessionmaker() as session:
        # Every availableSlots request reads its page here, shared answer or not: one
        # statement (the host's base URL included, as `user_base_url` reads it) outside a
        # transaction, so no BEGIN and ROLLBACK round trips (BENCHMARKS.md, shared slot
        # answers). A single statement sees one snapshot all the same.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = (
            await session.execute(_public_page(), {"slug": slug.strip("/").lower()})
        ).one_or_none()
        if row is None:
            raise NotFoundError("scheduling page", field=field, message=_NO_PUBLIC_PAGE)
        page, host, pages_enabled, offline, domain_of_host = row
        if domain is not None and domain.lower() != _host_of(public_base_url):
            known = (
                await session.execute(
                    select(ConnectedDomain.id).where(
                        func.lower(ConnectedDomain.domain) == domain.lower(),
                        ConnectedDomain.account_id == page.account_id,
                        verified_domain(),  # a pending or lapsed domain serves nothing (C40)
                    )
                )
            ).scalar_one_or_none()
            if known is None:
                raise NotFoundError("scheduling page", field=field, message=_NO_PUBLIC_PAGE)
    return PublicPage(
        page=page,
        host=host,
        base_url=base_url(public_base_url, domain_of_host),
        pages_enabled=pages_enabled,
        offline=offline,
    )


__all__ = [
    "DomainError",
    "PageDraft",
    "PublicPage",
    "create_page",
    "delete_page",
    "get_public_page",
    "update_page",
]
