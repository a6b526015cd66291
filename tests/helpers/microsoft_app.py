"""The app configured against the Microsoft identity platform and Graph fake (over HTTPS,
trusted through `microsoft_ca_bundle`), and the consent flow through it (S1).

The fake lives for the module and is reset before each test. Test modules take the
fixtures by assignment (`app = microsoft_app.app`)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from slotgraph.models.crypto import generate_key
from slotgraph.server.app import create_app
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from tests.fakes.microsoft import CLIENT_ID
from tests.fakes.microsoft import CLIENT_SECRET
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.microsoft import consent_form
from tests.helpers.accounts import Person
from tests.helpers.connections import DASHBOARD
from tests.helpers.connections import START
from tests.helpers.graphql import PUBLIC_BASE_URL
from tests.helpers.graphql import GraphQLClient

CALLBACK = f"{PUBLIC_BASE_URL}/oauth/microsoft365/callback"


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
    """Ask for the consent URL as the dashboard does; the mutation payload."""
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
