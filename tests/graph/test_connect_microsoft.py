"""Connecting Microsoft 365 end to end (S1, S5, S9, S12, S13, C2): the GraphQL mutation gives
the consent URL, a browser follows it on the identity-platform fake, the consent page POSTs the
code to the app's callback, which finishes the connection with msal and Graph (both over HTTPS
against the fake, trusted through `microsoft_ca_bundle`) and redirects to the dashboard."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import Credential
from tests.fakes.microsoft import EMAIL
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.microsoft import iter_secrets
from tests.helpers import microsoft_app
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.database import dump
from tests.helpers.graphql import GraphQLClient
from tests.helpers.microsoft_app import consent_and_return
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

CONNECTIONS = """
{ viewer { calendarConnections { edges { node {
  id provider accountEmail status purpose calendarSyncEnabled schedulingPagesEnabled lastError
  remoteCalendars { name isPrimary access timeZone status }
} } } } }
"""


# The fake (reset before each test), its CA, the app configured against it, the browser.
fake = microsoft_app.fake
_fresh_fake = microsoft_app._fresh_fake
ca_file = microsoft_app.ca_file
app = microsoft_app.app
browser = microsoft_app.browser


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
