"""connectExchangeCalendar end to end (S2–S6, C11): GraphQL mutation → the real Exchange
adapter (exchangelib) → the EWS fake on loopback → a CONNECTED connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from exchangelib.protocol import close_connections  # type: ignore[import-untyped]

from models import InboxConnection
from models.enums import InboxKind
from tests.conftest import Factory, GraphQLClient, Person
from tests.fakes.exchange import EXCHANGE_2007_SP3, PASSWORD, FakeExchange
from tests.models.test_credentials import dump

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
