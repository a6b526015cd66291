"""Cross-account isolation (C9) for the accounts types: users, API tokens and connected domains.
Another account's object looks exactly like an unknown id, in `node(id:)`, in every list, and
in every mutation that takes its id, even to that account's admin."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from slotgraph.graph.relay import to_global_id
from slotgraph.models import ApiToken
from slotgraph.models import ConnectedDomain
from slotgraph.models.enums import Role
from tests.helpers.accounts import PROVEN
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
LISTS = """
query {
  viewer {
    apiTokens { edges { node { id } } }
    connectedDomains { id }
    account { users { edges { node { id } } } }
  }
}
"""
# Each mutation that takes one of these ids: its field, the id's type, other input fields.
MUTATIONS = (
    ("updateUser", "User", ', name: "X"'),
    ("deactivateUser", "User", ""),
    ("reactivateUser", "User", ""),
    ("revokeApiToken", "ApiToken", ""),
    ("updateConnectedDomain", "ConnectedDomain", ", disallowMeetingsIndexing: true"),
    ("verifyConnectedDomain", "ConnectedDomain", ""),
    ("removeConnectedDomain", "ConnectedDomain", ""),
)


def by_id(field: str, extra: str) -> str:
    return (
        f"mutation($id: ID!) {{ {field}(input: {{id: $id{extra}}}) "
        "{ __typename ... on Error { message field code } } }"
    )


async def _account(factory: Factory, name: str) -> tuple[Person, dict[str, int]]:
    """An admin, a member, the member's token and a proven domain; type → a primary key."""
    admin = await factory.person(name=f"{name} Admin", role=Role.ADMIN)
    member = await factory.person(name=f"{name} Member", account=admin.account)
    domain = ConnectedDomain(
        account_id=admin.account.id,
        domain=f"meet.{name.lower()}.test",
        verification_token="t",
        verified_at=PROVEN,
    )
    await factory.add(domain)
    async with factory.sessionmaker() as session:
        token_id = await session.scalar(
            select(ApiToken.id).where(ApiToken.user_id == admin.user.id)
        )
    assert token_id is not None
    return admin, {"User": member.user.id, "ApiToken": token_id, "ConnectedDomain": domain.id}


@pytest.fixture
async def accounts(factory: Factory) -> tuple[Person, dict[str, int], Person, dict[str, int]]:
    ada, mine = await _account(factory, "Ada")
    bob, theirs = await _account(factory, "Bob")
    return ada, mine, bob, theirs


async def test_node_lookups_see_only_the_viewers_account(
    gql: GraphQLClient, accounts: tuple[Person, dict[str, int], Person, dict[str, int]]
) -> None:
    ada, mine, _, theirs = accounts
    for type_name, pk in mine.items():
        own = to_global_id(type_name, pk)
        assert await gql(NODE, {"id": own}, token=ada.token) == {
            "data": {"node": {"__typename": type_name, "id": own}}
        }
    for type_name, pk in theirs.items():
        foreign = await gql(NODE, {"id": to_global_id(type_name, pk)}, token=ada.token)
        unknown = await gql(NODE, {"id": to_global_id(type_name, 10**12)}, token=ada.token)
        assert foreign == unknown == {"data": {"node": None}}, type_name


async def test_lists_show_only_the_viewers_account(
    gql: GraphQLClient, accounts: tuple[Person, dict[str, int], Person, dict[str, int]]
) -> None:
    ada, mine, _, _ = accounts
    viewer = (await gql(LISTS, token=ada.token))["data"]["viewer"]
    assert viewer["apiTokens"] == {
        "edges": [{"node": {"id": to_global_id("ApiToken", mine["ApiToken"])}}]
    }
    assert viewer["connectedDomains"] == [
        {"id": to_global_id("ConnectedDomain", mine["ConnectedDomain"])}
    ]
    users = {edge["node"]["id"] for edge in viewer["account"]["users"]["edges"]}
    assert users == {to_global_id("User", ada.user.id), to_global_id("User", mine["User"])}


async def test_mutations_answer_foreign_ids_exactly_as_unknown_ones(
    gql: GraphQLClient, accounts: tuple[Person, dict[str, int], Person, dict[str, int]]
) -> None:
    ada, _, bob, theirs = accounts
    for field, type_name, extra in MUTATIONS:
        mutation = by_id(field, extra)
        foreign: dict[str, Any] = await gql(
            mutation, {"id": to_global_id(type_name, theirs[type_name])}, token=ada.token
        )
        unknown = await gql(mutation, {"id": to_global_id(type_name, 10**12)}, token=ada.token)
        assert foreign == unknown, field
        assert foreign["data"][field]["code"] == "NOT_FOUND", field
    # Nothing of Bob's changed: his token still works and his domain is still his.
    still = await gql(LISTS, token=bob.token)
    assert still["data"]["viewer"]["connectedDomains"] == [
        {"id": to_global_id("ConnectedDomain", theirs["ConnectedDomain"])}
    ]
