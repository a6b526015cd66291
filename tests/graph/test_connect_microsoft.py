"""Connecting Microsoft 365 end to end (S1, S5, S9, S12, S13, C2): the GraphQL mutation gives
the consent URL, a browser follows it on the identity-platform fake, the consent page POSTs the
code to the app's callback, which finishes the connection with msal and Graph (both over HTTPS
against the fake, trusted through `microsoft_ca_bundle`) and redirects to the dashboard."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from slotgraph.models import Credential
from slotgraph.models.crypto import generate_key
from slotgraph.server.app import create_app
from slotgraph.server.settings import Mode, Settings
from tests.conftest import PUBLIC_BASE_URL, Factory, GraphQLClient, Person
from tests.fakes.microsoft import (
    CLIENT_ID,
    CLIENT_SECRET,
    EMAIL,
    FakeMicrosoft,
    consent_form,
    iter_secrets,
)
from tests.graph.test_available_slots import SLOTS, make_page, next_monday
from tests.models.test_credentials import dump

DASHBOARD = "https://dashboard.slotgraph.test/settings/calendar"
CALLBACK = f"{PUBLIC_BASE_URL}/oauth/microsoft365/callback"

START = """
mutation Start($input: StartCalendarConnectionInput!) {
  startCalendarConnection(input: $input) {
    __typename
    ... on StartCalendarConnectionSuccess { provider authorizationUrl }
    ... on Error { message field code }
  }
}
"""
CONNECTIONS = """
{ viewer { calendarConnections { edges { node {
  id provider accountEmail status purpose calendarSyncEnabled schedulingPagesEnabled lastError
  remoteCalendars { name isPrimary access timeZone status }
} } } } }
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_fake(fake: FakeMicrosoft) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def ca_file(fake: FakeMicrosoft, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake.write_ca(tmp_path_factory.mktemp("microsoft") / "ca.pem")


@pytest.fixture(scope="module")
async def app(
    fake: FakeMicrosoft, ca_file: Path, database_url: str, engine: AsyncEngine
) -> AsyncIterator[Starlette]:
    """The app with Microsoft 365 configured against the fake (overrides conftest's app)."""
    settings = Settings(
        mode=Mode.PRODUCTION,
        database_url=database_url,
        secret_keys=(generate_key(),),
        public_base_url=PUBLIC_BASE_URL,
        dashboard_url=DASHBOARD,
        provider_timeout_seconds=3,
        microsoft_client_id=CLIENT_ID,
        microsoft_client_secret=CLIENT_SECRET,
        microsoft_authority=fake.authority,
        microsoft_graph_base_url=fake.graph_url,
        microsoft_ca_bundle=ca_file,
        db_pool_size=2,
        db_max_overflow=2,
        # Every slots call reads Graph live: these tests watch the token traffic it causes.
        busy_cache_listing_seconds=0,
    )
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser(ca_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser on the provider's pages (it trusts the fake's CA)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    async with httpx.AsyncClient(verify=context, trust_env=False) as client:
        yield client


async def start(gql: GraphQLClient, person: Person) -> dict[str, Any]:
    result = await gql(START, {"input": {"provider": "MICROSOFT365"}}, token=person.token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["startCalendarConnection"]
    return payload


async def consent_and_return(
    gql: GraphQLClient,
    person: Person,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    **override: str,
) -> dict[str, str]:
    """Start, consent on the fake, POST its form to the callback; the dashboard's query."""
    started = await start(gql, person)
    assert started["__typename"] == "StartCalendarConnectionSuccess"
    action, fields = consent_form(await browser.get(started["authorizationUrl"]))
    assert action == CALLBACK
    answer = await client.post(urlsplit(action).path, data={**fields, **override})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{DASHBOARD}?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def connections(gql: GraphQLClient, person: Person) -> list[dict[str, Any]]:
    result = await gql(CONNECTIONS, token=person.token)
    assert "errors" not in result, result
    return [edge["node"] for edge in result["data"]["viewer"]["calendarConnections"]["edges"]]


async def test_microsoft_365_connects_through_consent_and_lists_calendars(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    database_url: str,
) -> None:
    ada = await factory.person()

    redirect = await consent_and_return(gql, ada, browser, client)

    (connection,) = await connections(gql, ada)
    assert redirect == {"calendarConnection": connection["id"], "status": "CONNECTED"}
    assert connection == {
        "id": connection["id"],
        "provider": "MICROSOFT365",
        "accountEmail": EMAIL,
        "status": "CONNECTED",
        "purpose": "BOTH",
        "calendarSyncEnabled": True,  # S9
        "schedulingPagesEnabled": True,  # S12
        "lastError": None,
        "remoteCalendars": [
            {
                "name": name,
                "isPrimary": name == "Calendar",
                "access": access,
                "timeZone": "America/New_York",
                "status": "CONNECTED",
            }
            for name, access in (
                ("Calendar", "OWNER"),
                ("Team offsite", "OWNER"),
                ("Birthdays", "OWNER"),
                ("Bob's calendar", "WRITER"),
                ("Carol's calendar", "READER"),
            )
        ],
    }
    inboxes = await gql("{ viewer { inboxConnections { email kind status } } }", token=ada.token)
    assert inboxes["data"]["viewer"]["inboxConnections"] == [
        {"email": EMAIL, "kind": "PERSONAL", "status": "CONNECTED"}  # S5
    ]
    data = await dump(database_url)
    assert EMAIL.encode() in data  # the dump is real
    secrets = list(iter_secrets(fake))
    assert len(secrets) >= 3  # client secret, access and refresh tokens
    for secret in secrets:
        assert secret.encode() not in data
        assert secret not in str(connection)


@pytest.mark.parametrize("answer", ["access_denied", "consent_required"])
async def test_declined_consent_redirects_with_oauth_denied(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    answer: str,
) -> None:
    ada = await factory.person()
    fake.consent = answer

    redirect = await consent_and_return(gql, ada, browser, client)

    assert redirect["calendarConnectionError"] == "OAUTH_DENIED"
    assert "allow" in redirect["message"]
    assert await connections(gql, ada) == []


async def test_a_forged_state_redirects_with_oauth_state_invalid(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    ada = await factory.person()

    redirect = await consent_and_return(gql, ada, browser, client, state="forged")

    assert redirect["calendarConnectionError"] == "OAUTH_STATE_INVALID"
    assert "start connecting" in redirect["message"]
    assert fake.token_requests == []  # the code was never redeemed
    assert await connections(gql, ada) == []


async def slots(gql: GraphQLClient, slug: str) -> dict[str, Any]:
    monday = next_monday()
    result = await gql(
        SLOTS,
        {
            "slug": slug,
            "start": f"{monday}T09:00:00Z",
            "end": f"{monday}T12:00:00Z",
            "tz": "UTC",
            "d": 30,
        },
    )
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["availableSlots"]
    return payload


async def stored_secret(sessionmaker: async_sessionmaker[AsyncSession]) -> bytes:
    async with sessionmaker() as session:
        (row,) = (await session.execute(Credential.__table__.select())).all()
    return bytes(row.ciphertext)


async def test_expired_access_token_is_refreshed_and_the_new_cache_stored(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person(url_prefix="ada-ms")
    await consent_and_return(gql, ada, browser, client)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    assert (await slots(gql, slug))["__typename"] == "AvailableSlots"
    before = await stored_secret(sessionmaker)

    fake.expire_access_tokens()
    refreshed = await slots(gql, slug)

    assert refreshed["__typename"] == "AvailableSlots"
    assert refreshed["offline"] is False
    assert [form["grant_type"] for form in fake.token_requests] == [
        "authorization_code",
        "refresh_token",
    ]
    assert await stored_secret(sessionmaker) != before  # the rotated refresh token is kept
    assert [r.status for r in fake.graph_requests("getSchedule")] == [200, 401, 200]


async def test_revoked_grant_marks_the_connection_access_lost(
    gql: GraphQLClient,
    factory: Factory,
    fake: FakeMicrosoft,
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    ada = await factory.person(url_prefix="ada-lost")
    await consent_and_return(gql, ada, browser, client)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )

    fake.revoke_grants()
    fake.expire_access_tokens()
    lost = await slots(gql, slug)

    assert (lost["__typename"], lost["reason"]) == ("PageUnavailable", "HOST_ACCESS_LOST")  # S13
    (connection,) = await connections(gql, ada)
    assert connection["status"] == "ACCESS_LOST"  # C2
    assert connection["lastError"] == "Access to the calendar was revoked; reconnect it."
    for secret in iter_secrets(fake):
        assert secret not in str(lost)
