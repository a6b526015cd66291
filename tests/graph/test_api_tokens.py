"""A user's own API tokens over HTTP (C23, C37, C48): the secret is answered once, the list
never shows it, scopes never exceed the caller's, expired and revoked tokens get 401 at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy import update

from slotgraph.graph.schema import build_schema
from slotgraph.models import ApiToken
from slotgraph.models.enums import Scope
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

CREATE = """
mutation Create($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    __typename
    ... on CreateApiTokenSuccess { secret apiToken { id name scopes expiresAt lastUsedAt } }
    ... on Error { message field code }
    ... on PermissionDenied { requiredScope }
  }
}
"""
REVOKE = """
mutation Revoke($id: ID!) {
  revokeApiToken(input: {id: $id}) {
    __typename
    ... on RevokeApiTokenSuccess { apiToken { revokedAt } }
    ... on Error { code }
  }
}
"""
LIST = "query { viewer { apiTokens { edges { node { id name scopes lastUsedAt } } } } }"
NODE = "query Node($id: ID!) { node(id: $id) { id } }"


async def _create(gql: GraphQLClient, person: Person, **fields: Any) -> dict[str, Any]:
    payload = {"name": "ci", "scopes": ["read"], **fields}
    result = await gql(CREATE, {"input": payload}, token=person.token)
    created: dict[str, Any] = result["data"]["createApiToken"]
    return created


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.post(
        "/graphql",
        json={"query": "query { viewer { email } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code


async def test_a_new_token_is_shown_once_and_listed_without_its_secret(
    gql: GraphQLClient, factory: Factory, client: httpx.AsyncClient
) -> None:
    ada = await factory.person()
    created = await _create(gql, ada, name="ci", scopes=["read", "pages:write"])
    assert created["__typename"] == "CreateApiTokenSuccess"
    assert created["apiToken"] | {"id": None} == {
        "id": None,
        "name": "ci",
        "scopes": ["pages:write", "read"],
        "expiresAt": None,
        "lastUsedAt": None,
    }
    assert await _status(client, created["secret"]) == 200
    listed = await gql(LIST, token=ada.token)
    nodes = [edge["node"] for edge in listed["data"]["viewer"]["apiTokens"]["edges"]]
    assert [node["name"] for node in nodes] == ["test", "ci"]
    assert all(node["lastUsedAt"] is not None for node in nodes)  # both were just used
    assert created["secret"] not in str(listed)
    # The type has no field that could carry the secret or its digest.
    sdl = str(build_schema())
    block = sdl[sdl.index("type ApiToken implements Node {") :].split("}", 1)[0]
    fields = {line.split(":")[0].strip() for line in block.splitlines()[1:] if ":" in line}
    fields = {name for name in fields if not name.startswith('"')}
    assert fields == {"id", "name", "scopes", "createdAt", "lastUsedAt", "expiresAt", "revokedAt"}


async def test_scopes_never_exceed_the_calling_token_or_the_role(
    gql: GraphQLClient, factory: Factory
) -> None:
    narrow = await factory.person(scopes=(Scope.READ, Scope.TOKENS_WRITE))
    refused = await _create(gql, narrow, scopes=["read", "pages:write"])
    assert (refused["__typename"], refused["requiredScope"]) == ("PermissionDenied", "pages:write")
    member = await factory.person()  # a member's token may hold every scope but admin
    refused = await _create(gql, member, scopes=["admin"])
    assert (refused["__typename"], refused["requiredScope"]) == ("PermissionDenied", "admin")
    unknown = await _create(gql, member, scopes=["everything"])
    assert (unknown["__typename"], unknown["field"]) == ("ValidationError", "scopes")


async def test_creating_tokens_needs_the_tokens_write_scope(
    gql: GraphQLClient, factory: Factory
) -> None:
    reader = await factory.person(scopes=(Scope.READ,))
    refused = await _create(gql, reader)
    assert (refused["__typename"], refused["requiredScope"]) == ("PermissionDenied", "tokens:write")


async def test_a_revoked_token_is_refused_at_once(
    gql: GraphQLClient, factory: Factory, client: httpx.AsyncClient
) -> None:
    ada = await factory.person()
    created = await _create(gql, ada)
    revoked = await gql(REVOKE, {"id": created["apiToken"]["id"]}, token=ada.token)
    assert revoked["data"]["revokeApiToken"]["apiToken"]["revokedAt"] is not None
    assert await _status(client, created["secret"]) == 401
    listed = await gql(LIST, token=ada.token)
    assert len(listed["data"]["viewer"]["apiTokens"]["edges"]) == 1  # only the caller's own


async def test_an_expired_token_is_refused(
    gql: GraphQLClient, factory: Factory, client: httpx.AsyncClient
) -> None:
    ada = await factory.person()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    created = await _create(gql, ada, expiresAt=soon.isoformat())
    assert await _status(client, created["secret"]) == 200
    async with factory.sessionmaker.begin() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.name == "ci")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert await _status(client, created["secret"]) == 401
    past = await _create(gql, ada, expiresAt="2020-01-01T00:00:00+00:00")
    assert (past["__typename"], past["field"]) == ("ValidationError", "expiresAt")


async def test_tokens_are_invisible_to_everyone_else(gql: GraphQLClient, factory: Factory) -> None:
    ada = await factory.person()
    colleague = await factory.person(account=ada.account)
    token_id = (await _create(gql, ada))["apiToken"]["id"]
    assert (await gql(NODE, {"id": token_id}, token=ada.token))["data"]["node"] == {"id": token_id}
    assert (await gql(NODE, {"id": token_id}, token=colleague.token))["data"]["node"] is None
    refused = await gql(REVOKE, {"id": token_id}, token=colleague.token)
    assert refused["data"]["revokeApiToken"]["code"] == "NOT_FOUND"


async def test_last_use_is_written_at_most_once_a_minute(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person()
    await gql(LIST, token=ada.token)
    async with factory.sessionmaker() as session:
        first = await session.scalar(select(ApiToken.last_used_at))
    await gql(LIST, token=ada.token)
    async with factory.sessionmaker() as session:
        assert await session.scalar(select(ApiToken.last_used_at)) == first
