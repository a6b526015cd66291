"""Accounts for tests: a user with a token (`Person`) and the `Factory` that makes people and
calendar connections straight in the database (the `factory` fixture of tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Account
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models import User
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Role
from slotgraph.models.enums import Scope
from slotgraph.models.enums import Seat
from slotgraph.models.enums import SyncState
from slotgraph.models.enums import Tier
from slotgraph.usecases.accounts import create_account
from slotgraph.usecases.accounts import create_user
from slotgraph.usecases.tokens import issue_token


@dataclass
class Person:
    """A user of some account, with a token holding the given scopes."""

    account: Account
    user: User
    token: str


@dataclass(frozen=True)
class CalendarSpec:
    """A remote calendar of a connection made by `Factory.connection`."""

    name: str
    access: CalendarAccess = CalendarAccess.READER
    primary: bool = False
    all_details: bool = True
    status: CalendarStatus = CalendarStatus.CONNECTED


# When a test's connected domains were proven (C40): a domain inserted without it is pending
# and hosts nothing.
PROVEN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# The primary calendar as a provider lists it for its own account.
OWNED_PRIMARY = CalendarSpec("Calendar", access=CalendarAccess.OWNER, primary=True)


@dataclass
class Factory:
    """Makes people and calendar connections straight in the database, for tests that are
    not about making them."""

    sessionmaker: async_sessionmaker[AsyncSession]

    async def person(
        self,
        *,
        email: str | None = None,
        name: str = "Ada Host",
        seat: Seat = Seat.SALES,
        tier: Tier = Tier.PROFESSIONAL,
        scopes: tuple[Scope, ...] = tuple(Scope),
        account: Account | None = None,
        custom_domains: bool = True,
        url_prefix: str | None = None,
        role: Role = Role.MEMBER,
    ) -> Person:
        async with self.sessionmaker.begin() as session:
            if account is None:
                account = await create_account(
                    session, f"{name}'s company", custom_domains_enabled=custom_domains
                )
            user = await create_user(
                session,
                account,
                email=email or f"{secrets.token_hex(4)}@example.test",
                name=name,
                seat=seat,
                tier=tier,
                url_prefix=url_prefix or f"host-{secrets.token_hex(3)}",
            )
            user.role = role
            token = await issue_token(session, user, name="test", scopes=scopes)
        return Person(account=account, user=user, token=token)

    async def add(self, *rows: Any) -> None:
        """Insert rows in one transaction; their ids are set afterwards."""
        async with self.sessionmaker.begin() as session:
            session.add_all(rows)

    async def connection(
        self,
        person: Person,
        *,
        provider: Provider = Provider.GOOGLE,
        status: ConnectionStatus = ConnectionStatus.CONNECTED,
        scheduling_pages: bool = True,
        calendar_sync: bool = True,
        calendars: tuple[CalendarSpec, ...] = (),
        account_email: str | None = None,
        primary: CalendarSpec | None = None,
        primary_remote_id: str | None = None,
        time_zone: str = "UTC",
    ) -> tuple[CalendarConnection, list[RemoteCalendar]]:
        """A calendar connection with its primary calendar plus `calendars`, all in
        `time_zone`. The account is the person's email unless `account_email` names the
        mailbox of a provider fake; `primary_remote_id` is then the fake's primary calendar
        (remote ids are otherwise `<name>-<index>`)."""
        connection = CalendarConnection(
            account_id=person.account.id,
            user_id=person.user.id,
            provider=provider,
            account_email=account_email or person.user.email,
            purpose=ConnectionPurpose.BOTH,
            status=status,
            sync_state=SyncState.IDLE,
            calendar_sync_enabled=calendar_sync,
            task_sync_enabled=False,
            scheduling_pages_enabled=scheduling_pages,
            events_synced=0,
        )
        await self.add(connection)
        specs = (primary or CalendarSpec(name=person.user.name, primary=True), *calendars)
        remote_ids = [f"{spec.name}-{index}" for index, spec in enumerate(specs)]
        if primary_remote_id is not None:
            remote_ids[0] = primary_remote_id
        remote = [
            RemoteCalendar(
                account_id=person.account.id,
                connection_id=connection.id,
                remote_id=remote_id,
                name=spec.name,
                time_zone=time_zone,
                access=spec.access,
                is_primary=spec.primary,
                can_see_all_details=spec.all_details,
                status=spec.status,
            )
            for remote_id, spec in zip(remote_ids, specs, strict=True)
        ]
        await self.add(*remote)
        return connection, remote
