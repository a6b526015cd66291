"""Bearer tokens and scopes: who may read and change what."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.models import ApiToken
from slotgraph.models.enums import Scope
from slotgraph.usecases.tokens import hash_token
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient

VIEWER = "query { viewer { name email calendarSettings { meetingUrlPrefix } } }"
CREATE_PAGE = """
mutation Create($input: CreateSchedulingPageInput!) {
  createSchedulingPage(input: $input) {
    __typename
    ... on CreateSchedulingPageSuccess { page { title slug } }
    ... on Error { message field code }
    ... on PermissionDenied { requiredScope }
  }
}
"""


async def test_viewer_is_the_token_owner(gql: GraphQLClient, factory: Factory) -> None:
    ada = await factory.person(name="Ada Host", email="ada@example.test", url_prefix="ada")
    assert await gql(VIEWER, token=ada.token) == {
        "data": {
            "viewer": {
                "name": "Ada Host",
                "email": "ada@example.test",
                "calendarSettings": {"meetingUrlPrefix": "ada"},
            }
        }
    }


async def test_anonymous_viewer_is_null(gql: GraphQLClient) -> None:
    assert await gql(VIEWER) == {"data": {"viewer": None}}


async def test_unknown_token_is_refused_with_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": "Bearer sg_not-a-real-token-at-all-000000"},
    )
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "message": "The API token is invalid or revoked; create a new one with "
                "`slotgraph create-token`.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


async def test_revoked_token_is_refused(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person()
    async with sessionmaker.begin() as session:
        await session.execute(update(ApiToken).values(revoked_at=dt.datetime.now(dt.UTC)))
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {ada.token}"}
    )
    assert response.status_code == 401


async def test_token_is_stored_only_as_its_hash(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person()
    async with sessionmaker() as session:
        stored = (await session.execute(select(ApiToken.token_hash))).scalars().all()
    assert stored == [hash_token(ada.token)]
    assert ada.token not in stored


async def test_mutation_needs_its_scope(gql: GraphQLClient, factory: Factory) -> None:
    reader = await factory.person(scopes=(Scope.READ,))
    result = await gql(CREATE_PAGE, {"input": {"title": "Intro"}}, token=reader.token)
    assert result == {
        "data": {
            "createSchedulingPage": {
                "__typename": "PermissionDenied",
                "message": "This API token lacks the 'pages:write' scope; create a token with "
                "it (`slotgraph create-token --scope pages:write`).",
                "field": None,
                "code": "PERMISSION_DENIED",
                "requiredScope": "pages:write",
            }
        }
    }


async def test_anonymous_mutation_is_told_to_sign_in(gql: GraphQLClient) -> None:
    result = await gql(CREATE_PAGE, {"input": {"title": "Intro"}})
    assert result["data"]["createSchedulingPage"]["__typename"] == "PermissionDenied"
    assert "Authorization: Bearer" in result["data"]["createSchedulingPage"]["message"]


async def test_reading_needs_the_read_scope(gql: GraphQLClient, factory: Factory) -> None:
    writer = await factory.person(scopes=(Scope.PAGES_WRITE,))
    result = await gql(VIEWER, token=writer.token)
    assert result == {
        "data": {"viewer": None},
        "errors": [
            {
                "message": "This API token lacks the 'read' scope; create a token with it "
                "(`slotgraph create-token --scope read`).",
                "locations": [{"line": 1, "column": 9}],
                "path": ["viewer"],
                "extensions": {"code": "PERMISSION_DENIED", "field": None},
            }
        ],
    }


async def test_write_scope_alone_can_create_a_page(gql: GraphQLClient, factory: Factory) -> None:
    writer = await factory.person(scopes=(Scope.PAGES_WRITE,), url_prefix="ada")
    result = await gql(CREATE_PAGE, {"input": {"title": "Intro"}}, token=writer.token)
    assert result == {
        "data": {
            "createSchedulingPage": {
                "__typename": "CreateSchedulingPageSuccess",
                "page": {"title": "Intro", "slug": "ada/intro"},
            }
        }
    }
