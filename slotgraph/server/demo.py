"""Demo data for the README's first command: one account, a user with a paid seat, a
connected Google calendar (so every setting is editable), a custom domain and a few
scheduling pages. Idempotent: a second start reuses them and prints a fresh token and the
first page's booking page URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import null, select

from slotgraph.clock import utc_now
from slotgraph.models import (
    CalendarConnection,
    ConnectedDomain,
    InboxConnection,
    RemoteCalendar,
    SchedulingPage,
    User,
)
from slotgraph.models.enums import (
    CalendarAccess,
    ConnectionPurpose,
    ConnectionStatus,
    InboxKind,
    Provider,
    Seat,
    SyncState,
    Tier,
)
from slotgraph.scheduling.slugs import compose
from slotgraph.usecases.accounts import create_account, create_user
from slotgraph.usecases.pages import page_url, user_base_url
from slotgraph.usecases.tokens import issue_token

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

DEMO_EMAIL = "demo@slotgraph.test"
# The user's own calendar first (the primary one), then a shared one it can only read.
DEMO_CALENDARS = (
    (DEMO_EMAIL, "Dana Demo", CalendarAccess.OWNER),
    ("team@slotgraph.test", "Team holidays", CalendarAccess.READER),
)
DEMO_PAGES = (
    ("Intro call", "intro", [15, 30]),
    ("Product demo", "demo", [45]),
    ("Support session", "support", [30, 60]),
)


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """Ensure the demo data exists and return a new API token for the demo user."""
    async with sessionmaker.begin() as session:
        user = (
            await session.execute(select(User).where(User.email == DEMO_EMAIL))
        ).scalar_one_or_none()
        if user is None:
            user = await _create_demo(session)
        return await issue_token(session, user, name="demo")


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
    connection = CalendarConnection(
        account_id=account.id,
        user_id=user.id,
        provider=Provider.GOOGLE,
        account_email=DEMO_EMAIL,
        purpose=ConnectionPurpose.BOTH,
        status=ConnectionStatus.CONNECTED,
        sync_state=SyncState.SYNCED,
        calendar_sync_enabled=True,
        # No real Google account stands behind demo data, so booking does not use this
        # connection (C5): demo pages run in offline mode (S7) and bookings are requests.
        scheduling_pages_enabled=False,
        # Nor does the sync worker: it would find no credential and mark the connection
        # ACCESS_LOST at start (a sync asked for with syncCalendarConnection still runs).
        next_sync_at=null(),  # None would take the column's server default (now)
    )
    session.add(connection)
    await session.flush()
    session.add_all(
        [
            *(
                RemoteCalendar(
                    account_id=account.id,
                    connection_id=connection.id,
                    remote_id=remote_id,
                    name=name,
                    time_zone="Europe/London",
                    access=access,
                    is_primary=access is CalendarAccess.OWNER,
                    can_see_all_details=True,
                )
                for remote_id, name, access in DEMO_CALENDARS
            ),
            InboxConnection(
                account_id=account.id,
                user_id=user.id,
                email=DEMO_EMAIL,
                kind=InboxKind.PERSONAL,
                calendar_connection_id=connection.id,
            ),
            # Seeded by the operator's own command: counted as proven (C40).
            ConnectedDomain(account_id=account.id, domain="meet.demo.test", verified_at=utc_now()),
        ]
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
