"""Abusive queries are refused with a clear error; unexpected errors never leak details."""

from __future__ import annotations

import httpx
import strawberry

from slotgraph.graph.extensions import MaskUnexpectedErrors
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.graphql import GraphQLClient

DEEP = "{ viewer { bookings { edges { node { page { weeklyHours { weekday } } } } } } }"


async def test_deep_queries_are_refused(settings: Settings, database_url: str) -> None:
    shallow_limit = settings.model_copy(update={"max_query_depth": 5})
    app = create_app(shallow_limit, database_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        refused = (await client.post("/graphql", json={"query": DEEP})).json()
        allowed = (await client.post("/graphql", json={"query": "{ viewer { id } }"})).json()
    assert refused == {
        "data": None,
        "errors": [
            {
                "message": "'anonymous' exceeds maximum operation depth of 5",
                "locations": [{"line": 1, "column": 59}],
            }
        ],
    }
    assert allowed == {"data": {"viewer": None}}


async def test_too_many_aliases_are_refused(gql: GraphQLClient) -> None:
    aliases = " ".join(f"a{n}: viewer {{ id }}" for n in range(31))
    result = await gql("{ " + aliases + " }")
    assert result["data"] is None
    assert "aliases found. Allowed: 30" in result["errors"][0]["message"]


async def test_too_many_tokens_are_refused(gql: GraphQLClient) -> None:
    fields = " ".join(["id"] * 2_100)
    result = await gql("{ viewer { " + fields + " } }")
    assert result["data"] is None
    assert result["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."
    )


async def test_introspection_is_off_in_production(gql: GraphQLClient) -> None:
    result = await gql("{ __schema { queryType { name } } }")
    assert result["data"] is None
    assert "introspection" in result["errors"][0]["message"].lower()


async def test_mutations_are_refused_over_get_and_queries_allowed(
    client: httpx.AsyncClient,
) -> None:
    query = await client.get("/graphql", params={"query": "{ viewer { id } }"})
    assert (query.status_code, query.json()) == (200, {"data": {"viewer": None}})
    mutation = await client.get(
        "/graphql",
        params={"query": 'mutation { deleteSchedulingPage(input: {id: "x"}) { __typename } }'},
    )
    assert (mutation.status_code, mutation.text) == (
        400,
        "mutations are not allowed when using GET",
    )


async def test_form_posts_are_not_graphql(client: httpx.AsyncClient) -> None:
    """A cross-site form cannot send JSON, so it cannot run a mutation (CSRF)."""
    response = await client.post(
        "/graphql",
        content=b"query=mutation+%7B+x+%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 415)


async def test_oversized_bodies_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "' + b" " * 1_100_000 + b'{ viewer { id } }"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_unexpected_errors_are_masked_with_a_request_id() -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> str:
            raise RuntimeError("SELECT secret FROM credentials")

    @strawberry.type
    class Context:
        request_id: str = "req-1"

    schema = strawberry.Schema(Query, extensions=[MaskUnexpectedErrors])
    result = await schema.execute("{ broken }", context_value=Context())
    assert result.errors is not None
    [error] = result.errors
    assert error.formatted == {
        "message": "Unexpected error.",
        "locations": [{"line": 1, "column": 3}],
        "path": ["broken"],
        "extensions": {"code": "INTERNAL", "requestId": "req-1"},
    }
