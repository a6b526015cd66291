"""The app configured against the Google fake, and the consent flow through it (S1): the SPA's
GraphQL client, the user's browser on the fake's consent screen, and the app's callback.

Test modules take the fixtures by assignment (`app = google_app.app`); the `google` fake
itself is a fixture of tests/conftest.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from slotgraph.graph.relay import from_global_id
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.fakes.google import CLIENT_ID
from tests.fakes.google import CLIENT_SECRET
from tests.fakes.google import FakeGoogle
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.connections import DASHBOARD
from tests.helpers.connections import START
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

CALLBACK = f"{PUBLIC_BASE_URL}/oauth/google/callback"


CONNECTIONS = """
{ viewer { calendarConnections { edges { node {
  id provider accountEmail status calendarSyncEnabled schedulingPagesEnabled purpose
  remoteCalendars { id name isPrimary access canSeeAllDetails status }
} } } } }
"""


@pytest.fixture
async def app(
    settings: Settings, database_url: str, engine: AsyncEngine, google: FakeGoogle
) -> AsyncIterator[Starlette]:
    """The app with Google configured against the fake (overrides conftest's `app`)."""
    configured = settings.model_copy(
        update={
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "google_auth_url": google.auth_url,
            "google_token_url": google.token_url,
            "google_revoke_url": google.revoke_url,
            "google_userinfo_url": google.userinfo_url,
            "google_api_base_url": google.api_base_url,
            "dashboard_url": DASHBOARD,
            "provider_timeout_seconds": 2.0,
            "db_pool_size": 2,
            "db_max_overflow": 2,
        }
    )
    app = create_app(configured, database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser on the consent screen (real HTTP to the fake, no redirects
    followed: the tests look at each one)."""
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        yield client


def query_of(url: str) -> dict[str, str]:
    """The query of `url`, one value a key."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


@dataclass
class GoogleFlow:
    """The three parties of a consent: the SPA's GraphQL client, the user's browser on
    Google's consent screen, and the same browser landing on the app's callback."""

    gql: GraphQLClient
    app: httpx.AsyncClient
    browser: httpx.AsyncClient
    google: FakeGoogle

    async def start(self, person: Person) -> dict[str, Any]:
        result = await self.gql(START, {"input": {"provider": "GOOGLE"}}, token=person.token)
        assert "errors" not in result, result
        payload: dict[str, Any] = result["data"]["startCalendarConnection"]
        return payload

    async def consent(self, authorization_url: str) -> str:
        """The consent screen answers with a redirect to our callback; its URL."""
        answer = await self.browser.get(authorization_url)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(CALLBACK + "?")
        return str(location)

    async def callback(self, location: str) -> dict[str, str]:
        """Follow the provider's redirect on the app; the dashboard URL's query."""
        parts = urlsplit(location)
        answer = await self.app.get(f"{parts.path}?{parts.query}")
        assert answer.status_code == 303, answer.text
        target = answer.headers["location"]
        assert target.startswith(DASHBOARD + "?")
        return query_of(target)

    async def connect(self, person: Person) -> dict[str, str]:
        started = await self.start(person)
        assert started["__typename"] == "StartCalendarConnectionSuccess", started
        return await self.callback(await self.consent(started["authorizationUrl"]))

    async def connections(self, person: Person) -> list[dict[str, Any]]:
        result = await self.gql(CONNECTIONS, token=person.token)
        edges = result["data"]["viewer"]["calendarConnections"]["edges"]
        return [edge["node"] for edge in edges]


@pytest.fixture
def flow(
    gql: GraphQLClient, client: httpx.AsyncClient, browser: httpx.AsyncClient, google: FakeGoogle
) -> GoogleFlow:
    return GoogleFlow(gql, client, browser, google)


async def connected_host(flow: GoogleFlow, factory: Factory) -> tuple[Person, int, str]:
    """A host connected to Google with a scheduling page: (person, connection pk, page slug)."""
    ada = await factory.person(url_prefix="ada")
    landed = await flow.connect(ada)
    decoded = from_global_id(landed["calendarConnection"])
    assert decoded is not None
    slug = await make_page(flow.gql, ada, bookingWindowDays=60)
    return ada, decoded[1], slug


def window() -> dict[str, str]:
    start = dt.datetime.combine(next_monday(), dt.time(), dt.UTC)
    return {
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "tz": "UTC",
    }
