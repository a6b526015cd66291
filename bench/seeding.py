"""The host the calendar benchmarks seed, written once so they measure the same setup.

One account ("Bench Co") and one user on a SALES seat and the PROFESSIONAL tier, so pages
and calendar sync are open to them (S10, S14), with one working calendar connection of the
given provider for both purposes (S6), idle and offered to scheduling pages (C5). The
remote calendars differ per benchmark: each caller adds its own (`connected_calendar`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models import User
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Seat
from slotgraph.models.enums import SyncState
from slotgraph.models.enums import Tier
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

HOST_EMAIL = "host@bench.example"


async def seed_connected_host(
    session: AsyncSession,
    provider: Provider,
    *,
    account_email: str = HOST_EMAIL,
    time_zone: str = "UTC",
    url_prefix: str | None = None,
) -> tuple[User, CalendarConnection]:
    """The host and its connection, flushed so both have their ids."""
    account = await create_account(session, "Bench Co")
    user = await create_user(
        session,
        account,
        email=HOST_EMAIL,
        name="Bench Host",
        time_zone=time_zone,
        seat=Seat.SALES,
        tier=Tier.PROFESSIONAL,
        url_prefix=url_prefix,
    )
    return user, await seed_connection(session, user, provider, account_email)


async def seed_connection(
    session: AsyncSession, user: User, provider: Provider, account_email: str
) -> CalendarConnection:
    """A working connection of the user's for both purposes, idle and offered to pages,
    flushed so it has its id."""
    connection = CalendarConnection(
        account_id=user.account_id,
        user_id=user.id,
        provider=provider,
        account_email=account_email,
        purpose=ConnectionPurpose.BOTH,
        status=ConnectionStatus.CONNECTED,
        sync_state=SyncState.IDLE,
        scheduling_pages_enabled=True,
    )
    session.add(connection)
    await session.flush()
    return connection


def connected_calendar(
    connection: CalendarConnection,
    remote_id: str,
    name: str,
    time_zone: str,
    *,
    primary: bool = True,
) -> RemoteCalendar:
    """A calendar the connection reaches: its primary, which the account owns, or (not
    `primary`) another it may only read."""
    return RemoteCalendar(
        account_id=connection.account_id,
        connection_id=connection.id,
        remote_id=remote_id,
        name=name,
        time_zone=time_zone,
        access=CalendarAccess.OWNER if primary else CalendarAccess.READER,
        is_primary=primary,
    )
