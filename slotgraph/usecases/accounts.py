"""Creating accounts and users (used by the demo seed, the CLI and tests).

Sign-up itself belongs to the CRM; Slotgraph only needs the rows and each user's
calendar-settings row, which always exists so settings reads never branch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from slotgraph.models import Account
from slotgraph.models import CalendarSettings
from slotgraph.models import User
from slotgraph.models.enums import Seat
from slotgraph.models.enums import Tier
from slotgraph.scheduling.rules import check_time_zone
from slotgraph.scheduling.slugs import slugify


async def create_account(
    session: AsyncSession,
    name: str,
    *,
    created_at: datetime | None = None,
    custom_domains_enabled: bool = False,
) -> Account:
    account = Account(name=name, custom_domains_enabled=custom_domains_enabled)
    if created_at is not None:
        account.created_at = created_at
    session.add(account)
    await session.flush()
    return account


async def create_user(
    session: AsyncSession,
    account: Account,
    *,
    email: str,
    name: str,
    time_zone: str = "UTC",
    seat: Seat = Seat.NONE,
    tier: Tier = Tier.FREE,
    personal_email_access: bool = True,
    url_prefix: str | None = None,
) -> User:
    user = User(
        account_id=account.id,
        email=email,
        name=name,
        time_zone=check_time_zone("timeZone", time_zone),
        locale="en-US",
        seat=seat,
        tier=tier,
        personal_email_access=personal_email_access,
    )
    session.add(user)
    await session.flush()
    session.add(
        CalendarSettings(
            user_id=user.id,
            account_id=account.id,
            meeting_url_prefix=url_prefix or slugify(name),
            pages_enabled=True,
            chat_link_enabled=False,
        )
    )
    await session.flush()
    return user
