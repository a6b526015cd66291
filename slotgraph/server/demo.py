"""Demo data for the README's first command: one account, a user with a paid seat, a custom
domain and a few scheduling pages, and (C29) the user's calendar on the demo's own Radicale
(`slotgraph.server.demo_radicale`, its events from `slotgraph.server.demo_calendar`),
connected through `connectCalDavCalendar`'s use case as a user would connect theirs, so the
pages hide the calendar's events and book CONFIRMED meetings written to it. Idempotent: a
second start reuses them and prints a fresh token and the first page's booking page URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from slotgraph.clock import utc_now
from slotgraph.models import CalendarConnection
from slotgraph.models import ConnectedDomain
from slotgraph.models import SchedulingPage
from slotgraph.models import User
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.scheduling.slugs import compose
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.connections import PasswordLogin
from slotgraph.usecases.connections import connect_caldav
from slotgraph.usecases.connections import disconnect
from slotgraph.usecases.pages import page_url
from slotgraph.usecases.pages import user_base_url
from slotgraph.usecases.tokens import issue_token_row
from slotgraph.usecases.viewer import Viewer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from slotgraph.server.demo_radicale import DemoCalDav
    from slotgraph.usecases.services import Services

DEMO_EMAIL = "demo@slotgraph.test"
DEMO_PAGES = (
    ("Intro call", "intro", [15, 30]),
    ("Product demo", "demo", [45]),
    ("Support session", "support", [30, 60]),
)


@dataclass(frozen=True, slots=True)
class DemoUser:
    """The demo user's new token (printed) and the viewer it stands for."""

    token: str
    viewer: Viewer


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession]) -> DemoUser:
    """Ensure the demo data exists and issue a new API token for the demo user."""
    async with sessionmaker.begin() as session:
        user = (
            await session.execute(select(User).where(User.email == DEMO_EMAIL))
        ).scalar_one_or_none()
        if user is None:
            user = await _create_demo(session)
        row, token = await issue_token_row(session, user, "demo", tuple(Scope))
        viewer = Viewer(user.id, user.account_id, frozenset(Scope), row.id)
        return DemoUser(token, viewer)


async def connect_demo_calendar(services: Services, viewer: Viewer, server: DemoCalDav) -> None:
    """C29: the demo user's meetings calendar is the demo Radicale, connected through the
    normal connect path (C28: the server URL, the login proved, calendars listed; S3, S4,
    S6), with calendar sync on as the settings screen would turn it on, so createMeeting
    writes events too (S9). Any other connection is disconnected first (S6 allows one): the
    credential-less "Google" one of a data dir from before C29, or a CalDAV one naming
    another Radicale (a new port, or another clone's demo on the same DATABASE_URL)."""
    async with services.sessionmaker() as session:
        connections = list(
            (
                await session.execute(
                    select(CalendarConnection).where(
                        CalendarConnection.user_id == viewer.user_id,
                        CalendarConnection.status != ConnectionStatus.DISCONNECTED,
                    )
                )
            ).scalars()
        )
        current = [c.id for c in connections if await _points_at(services, session, c, server)]
    if current:
        return
    for connection in connections:
        await disconnect(services, viewer, connection.id)
    login = PasswordLogin(DEMO_EMAIL, server.password, server.username, server.url)
    connected = await connect_caldav(services, viewer, login)
    async with services.sessionmaker.begin() as session:
        (await session.get_one(CalendarConnection, connected.id)).calendar_sync_enabled = True


async def _points_at(
    services: Services, session: AsyncSession, connection: CalendarConnection, server: DemoCalDav
) -> bool:
    """The connection logs in to `server` as the demo user."""
    if connection.provider is not Provider.CALDAV:
        return False
    secret = await services.credentials.load(session, connection.id) or {}
    return bool(
        str(secret.get("home_url", "")).startswith(f"{server.url}/")
        and secret.get("password") == server.password
    )


async def demo_page_url(
    sessionmaker: async_sessionmaker[AsyncSession], public_base_url: str
) -> str:
    """Where the demo's first booking page is now: the tour may have moved the meeting domain
    or the prefix since (S15)."""
    async with sessionmaker() as session:
        user_id = (
            await session.execute(select(User.id).where(User.email == DEMO_EMAIL))
        ).scalar_one()
        slug = (
            await session.execute(
                select(SchedulingPage.slug)
                .where(SchedulingPage.user_id == user_id)
                .order_by(SchedulingPage.id)
                .limit(1)
            )
        ).scalar_one()
        return page_url(await user_base_url(session, user_id, public_base_url), slug)


async def _create_demo(session: AsyncSession) -> User:
    account = await create_account(session, "Demo Co", custom_domains_enabled=True)
    user = await create_user(
        session,
        account,
        email=DEMO_EMAIL,
        name="Dana Demo",
        time_zone="Europe/London",
        seat=Seat.SALES,
        tier=Tier.PROFESSIONAL,
        url_prefix="dana-demo",
    )
    # Seeded by the operator's own command: counted as proven (C40).
    session.add(
        ConnectedDomain(account_id=account.id, domain="meet.demo.test", verified_at=utc_now())
    )
    for title, name, durations in DEMO_PAGES:
        session.add(
            SchedulingPage(
                account_id=account.id,
                user_id=user.id,
                title=title,
                description="",
                url_prefix="dana-demo",
                slug=compose("dana-demo", name),
                durations_minutes=durations,
                slot_interval_minutes=15,
                buffer_before_minutes=0,
                buffer_after_minutes=0,
                minimum_notice_minutes=60,
                booking_window_days=60,
                weekly_hours=[
                    {"weekday": day, "start": "09:00", "end": "17:00"}
                    for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
                ],
                date_overrides=[],
                form_fields=[],
            )
        )
    await session.flush()
    return user
