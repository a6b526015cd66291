"""connectExchangeCalendar end to end (S2–S6, C11): GraphQL mutation → the real Exchange
adapter (exchangelib) → the EWS fake on loopback → a CONNECTED connection."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from exchangelib.protocol import close_connections
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Account
from slotgraph.models import CalendarConnection
from slotgraph.models import InboxConnection
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import InboxKind
from tests.fakes.exchange import EXCHANGE_2007_SP3
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.connections import DISCONNECT
from tests.helpers.database import dump
from tests.helpers.graphql import GraphQLClient

CONNECT = """
mutation Connect($input: ConnectExchangeCalendarInput!) {
  connectExchangeCalendar(input: $input) {
    __typename
    ... on ConnectExchangeCalendarSuccess { connection {
      provider accountEmail status calendarSyncEnabled schedulingPagesEnabled purpose
      remoteCalendars { name isPrimary access }
    } }
    ... on Error { message field code }
  }
}
"""


@pytest.fixture(autouse=True)
def _close_exchangelib_sessions() -> Iterator[None]:
    yield
    close_connections()


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange() as server:
        yield server


async def connect(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    result = await gql(CONNECT, {"input": fields}, token=person.token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["connectExchangeCalendar"]
    return payload


async def test_exchange_connects_lists_calendars_and_connects_the_inbox(
    gql: GraphQLClient, factory: Factory, fake: FakeExchange, database_url: str
) -> None:
    ada = await factory.person()
    payload = await connect(gql, ada, email=fake.email, password=PASSWORD, ewsUrl=fake.url)
    assert payload == {
        "__typename": "ConnectExchangeCalendarSuccess",
        "connection": {
            "provider": "EXCHANGE",
            "accountEmail": fake.email,
            "status": "CONNECTED",
            "calendarSyncEnabled": False,
            "schedulingPagesEnabled": True,
            "purpose": "BOTH",
            "remoteCalendars": payload["connection"]["remoteCalendars"],
        },
    }
    calendars = payload["connection"]["remoteCalendars"]
    assert calendars[0]["isPrimary"] is True
    assert calendars[0]["access"] == "OWNER"
    inboxes = await gql("{ viewer { inboxConnections { email kind status } } }", token=ada.token)
    assert inboxes["data"]["viewer"]["inboxConnections"] == [
        {"email": fake.email, "kind": "PERSONAL", "status": "CONNECTED"}  # S5
    ]
    assert PASSWORD.encode() not in await dump(database_url)

    again = await connect(gql, ada, email=fake.email, password=PASSWORD, ewsUrl=fake.url)
    assert again["__typename"] == "ConnectionLimitReached"  # S6


async def test_exchange_errors_are_typed_and_say_what_to_do(
    gql: GraphQLClient, factory: Factory, fake: FakeExchange
) -> None:
    ada = await factory.person()
    wrong = await connect(gql, ada, email=fake.email, password="nope", ewsUrl=fake.url)
    assert (wrong["__typename"], wrong["field"]) == ("ExchangeAuthFailed", "password")
    assert "app password" in wrong["message"]
    assert "nope" not in str(wrong)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = await connect(
        gql,
        ada,
        email=fake.email,
        password=PASSWORD,
        ewsUrl=f"http://127.0.0.1:{closed}/EWS/Exchange.asmx",
    )
    assert unreachable["__typename"] == "ExchangeUnreachable"

    discovery = await connect(gql, ada, email="someone@nowhere.invalid", password=PASSWORD)
    assert (discovery["__typename"], discovery["field"]) == ("AutodiscoverFailed", "ewsUrl")

    bad_url = await connect(gql, ada, email=fake.email, password=PASSWORD, ewsUrl="mail.x")
    assert (bad_url["__typename"], bad_url["field"]) == ("ValidationError", "ewsUrl")


async def test_old_exchange_servers_are_refused(gql: GraphQLClient, factory: Factory) -> None:
    ada = await factory.person()
    with FakeExchange(build=EXCHANGE_2007_SP3) as old:
        payload = await connect(gql, ada, email=old.email, password=PASSWORD, ewsUrl=old.url)
    assert payload["__typename"] == "ExchangeVersionUnsupported"
    assert "2010 SP2" in payload["message"]


async def test_connecting_needs_the_permission_and_a_personal_inbox(
    gql: GraphQLClient, factory: Factory, fake: FakeExchange
) -> None:
    no_permission = await factory.person()
    async with factory.sessionmaker.begin() as session:
        user = await session.merge(no_permission.user)
        user.personal_email_access = False
    refused = await connect(
        gql, no_permission, email=fake.email, password=PASSWORD, ewsUrl=fake.url
    )
    assert refused["__typename"] == "PermissionRequired"  # S3

    shared = await factory.person(email=fake.email)
    await factory.add(
        InboxConnection(
            account_id=shared.account.id,
            user_id=shared.user.id,
            email=fake.email,
            kind=InboxKind.SHARED,
        )
    )
    refused = await connect(gql, shared, email=fake.email, password=PASSWORD, ewsUrl=fake.url)
    assert refused["__typename"] == "SharedInboxNotAllowed"  # S4
    assert fake.requests == []  # refused before any call to Exchange


# -- S6: legacy dual connections ------------------------------------------------------------

LEGACY_CUTOFF = dt.datetime(2023, 3, 13, tzinfo=dt.UTC)
LIMIT_REACHED = {
    "__typename": "ConnectionLimitReached",
    "message": "You already have a calendar connected; disconnect it before connecting another.",
    "field": None,
    "code": "CONNECTION_LIMIT_REACHED",
}


async def calendar_settings_user(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession], created_at: dt.datetime
) -> tuple[Person, CalendarConnection]:
    """A user of an account created at `created_at` whose one connection is the
    calendar-settings half of a dual setup (how legacy accounts were left, S6)."""
    ada = await factory.person()
    existing, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        (await session.get_one(Account, ada.account.id)).created_at = created_at
        (
            await session.get_one(CalendarConnection, existing.id)
        ).purpose = ConnectionPurpose.CALENDAR_SETTINGS
    return ada, existing


@pytest.mark.parametrize("disconnected", ["calendar settings", "meetings settings"])
async def test_a_legacy_account_holds_two_connections_until_either_is_disconnected(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeExchange,
    sessionmaker: async_sessionmaker[AsyncSession],
    disconnected: str,
) -> None:
    ada, _ = await calendar_settings_user(
        factory, sessionmaker, LEGACY_CUTOFF - dt.timedelta(seconds=1)
    )
    login = {"email": fake.email, "password": PASSWORD, "ewsUrl": fake.url}
    second = await connect(gql, ada, **login)
    assert second["__typename"] == "ConnectExchangeCalendarSuccess", second
    assert (second["connection"]["purpose"], second["connection"]["status"]) == (
        "MEETINGS_SETTINGS",
        "CONNECTED",
    )
    listed = await gql(
        "{ viewer { calendarConnections { edges { node { id purpose status } } } } }",
        token=ada.token,
    )
    nodes = [e["node"] for e in listed["data"]["viewer"]["calendarConnections"]["edges"]]
    assert sorted((n["purpose"], n["status"]) for n in nodes) == [
        ("CALENDAR_SETTINGS", "CONNECTED"),
        ("MEETINGS_SETTINGS", "CONNECTED"),
    ]
    gone = next(n["id"] for n in nodes if n["purpose"] == disconnected.upper().replace(" ", "_"))
    dropped = await gql(DISCONNECT, {"id": gone}, token=ada.token)
    assert dropped["data"]["disconnectCalendar"]["__typename"] == "DisconnectCalendarSuccess"
    requests_before = len(fake.operations(status=None))

    assert await connect(gql, ada, **login) == LIMIT_REACHED  # the dual setup has ended
    assert len(fake.operations(status=None)) == requests_before  # refused before Exchange


@pytest.mark.parametrize(
    ("created_at", "answer"),
    [
        (LEGACY_CUTOFF - dt.timedelta(seconds=1), "ConnectExchangeCalendarSuccess"),
        (LEGACY_CUTOFF, "ConnectionLimitReached"),
    ],
)
async def test_only_accounts_created_before_2023_03_13_may_add_the_second_connection(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeExchange,
    sessionmaker: async_sessionmaker[AsyncSession],
    created_at: dt.datetime,
    answer: str,
) -> None:
    ada, _ = await calendar_settings_user(factory, sessionmaker, created_at)
    second = await connect(gql, ada, email=fake.email, password=PASSWORD, ewsUrl=fake.url)
    assert second["__typename"] == answer, second
