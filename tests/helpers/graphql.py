"""Talking to the app as a client does: GraphQL operations posted over HTTP (the `gql` fixture
of tests/conftest.py), and the public base URL the test settings give the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from typing import Any

import httpx

if TYPE_CHECKING:
    from starlette.applications import Starlette

PUBLIC_BASE_URL = "https://app.slotgraph.test"


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


@asynccontextmanager
async def graphql_over(app: Starlette) -> AsyncIterator[GraphQLClient]:
    """A `GraphQLClient` posting to `app` in this process (httpx's ASGI transport), for a
    test's own app with settings of its own."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield GraphQLClient(client)
