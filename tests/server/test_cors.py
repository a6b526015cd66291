"""CORS for `/graphql` over real HTTP against `slotgraph serve` (C24, C35): preflights from the
configured origins, the app domain and connected domains are answered with an allow header;
other origins get none; credentials are never allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slotgraph.models import ConnectedDomain
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.serving import serve

SPA = "https://spa.example.test"
VIEWER = {"query": "query { viewer { email } }"}


@pytest.fixture(scope="module")
def base(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs: Path = tmp_path_factory.mktemp("serve")
    env = {"SLOTGRAPH_RUN_WORKER": "false", "SLOTGRAPH_ALLOWED_ORIGINS": f"{SPA},https://b.test"}
    with serve(database_url, logs, workers=1, env=env) as url:
        yield url


@pytest.fixture
async def http(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        yield client


async def preflight(http: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await http.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


async def test_a_preflight_from_an_allowed_origin_is_answered(http: httpx.AsyncClient) -> None:
    response = await preflight(http, SPA)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_gets_no_allow_header(
    http: httpx.AsyncClient,
) -> None:
    response = await preflight(http, "https://elsewhere.test")
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 400


async def test_a_query_from_an_allowed_origin_may_be_read_with_a_bearer_token(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    ada = await factory.person(email="ada@example.test")
    auth = {"Authorization": f"Bearer {ada.token}"}
    allowed = await http.post("/graphql", json=VIEWER, headers={"Origin": SPA, **auth})
    assert allowed.json() == {"data": {"viewer": {"email": "ada@example.test"}}}
    assert allowed.headers["access-control-allow-origin"] == SPA
    assert "access-control-allow-credentials" not in allowed.headers
    other = await http.post(
        "/graphql", json=VIEWER, headers={"Origin": "https://elsewhere.test", **auth}
    )
    assert "access-control-allow-origin" not in other.headers
    # A refused token is readable by the SPA too, so it can ask its user to sign in again.
    refused = await http.post(
        "/graphql", json=VIEWER, headers={"Origin": SPA, "Authorization": "Bearer sg_" + "x" * 40}
    )
    assert (refused.status_code, refused.headers["access-control-allow-origin"]) == (401, SPA)


async def test_the_app_domain_and_connected_domains_are_same_origin(
    http: httpx.AsyncClient, base: str, factory: Factory
) -> None:
    ada = await factory.person()
    await factory.add(
        ConnectedDomain(verified_at=PROVEN, account_id=ada.account.id, domain="Meet.Customer.test")
    )
    for origin in (base, "https://meet.customer.test"):
        response = await preflight(http, origin)
        assert response.headers.get("access-control-allow-origin") == origin, origin
    # Another port of the app's host may be another service: not the app's origin.
    other_port = base.rsplit(":", 1)[0] + ":1"
    assert "access-control-allow-origin" not in (await preflight(http, other_port)).headers
