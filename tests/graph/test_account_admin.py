"""Account administration over HTTP (C23, C37, C39): admins create, change, list and
deactivate their account's users; members cannot; nothing crosses accounts (C9)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.leases import claim_due
from slotgraph.models.enums import Role
from slotgraph.models.enums import Tier
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page

CREATE_USER = """
mutation Create($input: UserFields!) {
  createUser(input: $input) {
    __typename
    ... on CreateUserSuccess { token user { id name email role seat tier timeZone locale
      hasPersonalEmailAccess } }
    ... on Error { message field code }
  }
}
"""
UPDATE_USER = """
mutation Update($input: UpdateUserInput!) {
  updateUser(input: $input) {
    __typename
    ... on UserSuccess { user { name tier seat } }
    ... on Error { message field code }
  }
}
"""
DEACTIVATE = """
mutation Deactivate($id: ID!) {
  deactivateUser(input: {id: $id}) {
    __typename
    ... on DeactivateUserSuccess { user { deactivatedAt } }
    ... on Error { message code }
  }
}
"""
USERS = """
query { viewer { account { name planTier customDomainsEnabled
  users(first: 10) { edges { node { email role } } } } } }
"""
NODE_OF_VIEWER = "query { viewer { id } }"
NODE = "query Node($id: ID!) { node(id: $id) { id ... on User { email } } }"
PAGE = """
query Page($slug: String!) {
  schedulingPage(slug: $slug) {
    __typename
    ... on PageUnavailable { reason }
  }
}
"""
MEMBER = {"name": "Bo Member", "email": "bo@example.test", "timeZone": "Europe/Paris"}


async def _admin(factory: Factory, **kwargs: Any) -> Person:
    return await factory.person(role=Role.ADMIN, name="Ann Admin", **kwargs)


async def _create(gql: GraphQLClient, admin: Person, **fields: Any) -> dict[str, Any]:
    result = await gql(CREATE_USER, {"input": {**MEMBER, **fields}}, token=admin.token)
    created: dict[str, Any] = result["data"]["createUser"]
    return created


async def test_an_admin_creates_a_member_whose_first_token_works(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await _admin(factory)
    created = await _create(
        gql, admin, seat="SALES", tier="STARTER", hasPersonalEmailAccess=True, locale="fr-FR"
    )
    assert created["__typename"] == "CreateUserSuccess"
    assert created["user"] | {"id": None} == {
        "id": None,
        "name": "Bo Member",
        "email": "bo@example.test",
        "role": "MEMBER",
        "seat": "SALES",
        "tier": "STARTER",
        "timeZone": "Europe/Paris",
        "locale": "fr-FR",
        "hasPersonalEmailAccess": True,
    }
    viewer = await gql("query { viewer { email } }", token=created["token"])
    assert viewer == {"data": {"viewer": {"email": "bo@example.test"}}}
    # The member's first token holds exactly the member's scopes: not the admin ones.
    denied = await _create(gql, Person(admin.account, admin.user, created["token"]), email="x@y.z")
    assert denied["code"] == "PERMISSION_DENIED"


async def test_a_member_cannot_manage_users(gql: GraphQLClient, factory: Factory) -> None:
    member = await factory.person()
    assert (await _create(gql, member))["__typename"] == "PermissionDenied"
    listed = await gql(USERS, token=member.token)
    assert listed["data"]["viewer"]["account"] is None
    assert listed["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_an_admin_lists_only_their_own_accounts_users(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await _admin(factory)
    await factory.person(email="stranger@example.test")
    await _create(gql, admin)
    listed = await gql(USERS, token=admin.token)
    account = listed["data"]["viewer"]["account"]
    assert account["planTier"] == "ENTERPRISE"
    assert [edge["node"] for edge in account["users"]["edges"]] == [
        {"email": admin.user.email, "role": "ADMIN"},
        {"email": "bo@example.test", "role": "MEMBER"},
    ]


async def test_users_are_invisible_across_accounts(gql: GraphQLClient, factory: Factory) -> None:
    admin = await _admin(factory)
    other_admin = await _admin(factory)
    user_id = (await _create(gql, admin))["user"]["id"]
    assert (await gql(NODE, {"id": user_id}, token=other_admin.token))["data"] == {"node": None}
    assert (await gql(NODE, {"id": user_id}, token=admin.token))["data"]["node"]["id"] == user_id
    for mutation, variables in (
        (UPDATE_USER, {"input": {"id": user_id, "name": "Taken"}}),
        (DEACTIVATE, {"id": user_id}),
    ):
        result = await gql(mutation, variables, token=other_admin.token)
        assert next(iter(result["data"].values()))["__typename"] == "NotFound"


async def test_a_tier_beyond_the_plan_is_refused(gql: GraphQLClient, factory: Factory) -> None:
    admin = await _admin(factory)
    user_id = (await _create(gql, admin))["user"]["id"]
    async with factory.sessionmaker.begin() as session:
        account = await session.get(type(admin.account), admin.account.id)
        assert account is not None
        account.plan_tier = Tier.STARTER
    result = await gql(
        UPDATE_USER, {"input": {"id": user_id, "tier": "PROFESSIONAL"}}, token=admin.token
    )
    assert result["data"]["updateUser"] | {"message": None} == {
        "__typename": "PlanFeatureRequired",
        "message": None,
        "field": "tier",
        "code": "PLAN_FEATURE_REQUIRED",
    }
    ok = await gql(UPDATE_USER, {"input": {"id": user_id, "tier": "STARTER"}}, token=admin.token)
    assert ok["data"]["updateUser"]["user"]["tier"] == "STARTER"


async def test_a_deactivated_users_tokens_and_pages_stop(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await _admin(factory)
    created = await _create(gql, admin)
    member = Person(admin.account, admin.user, created["token"])
    slug = await make_page(gql, member)
    assert (await gql(PAGE, {"slug": slug}))["data"]["schedulingPage"]["__typename"] == (
        "PublicSchedulingPage"
    )
    done = await gql(DEACTIVATE, {"id": created["user"]["id"]}, token=admin.token)
    assert done["data"]["deactivateUser"]["user"]["deactivatedAt"] is not None
    response = await gql.http.post(
        "/graphql",
        json={"query": "query { viewer { email } }"},
        headers={"Authorization": f"Bearer {created['token']}"},
    )
    assert response.status_code == 401
    assert (await gql(PAGE, {"slug": slug}))["data"]["schedulingPage"] == {
        "__typename": "PageUnavailable",
        "reason": "HOST_DEACTIVATED",
    }


async def test_an_admin_cannot_deactivate_themself(gql: GraphQLClient, factory: Factory) -> None:
    admin = await _admin(factory)
    me = (await gql("query { viewer { id } }", token=admin.token))["data"]["viewer"]["id"]
    result = await gql(DEACTIVATE, {"id": me}, token=admin.token)
    assert result["data"]["deactivateUser"]["code"] == "VALIDATION"


async def test_a_deactivated_users_connections_stop_syncing(
    gql: GraphQLClient, factory: Factory, app: Starlette
) -> None:
    admin = await _admin(factory)
    member = await factory.person(account=admin.account)
    connection, _ = await factory.connection(member)
    ctx = SyncContext(
        sessionmaker=factory.sessionmaker,
        clients=app.state.runtime.services.connection_clients,
        worker="test-worker",
    )
    member_id = (await gql(NODE_OF_VIEWER, token=member.token))["data"]["viewer"]["id"]
    await gql(DEACTIVATE, {"id": member_id}, token=admin.token)
    assert await claim_due(ctx, 10) == []
    await gql(
        "mutation R($id: ID!) { reactivateUser(input: {id: $id}) { __typename } }",
        {"id": member_id},
        token=admin.token,
    )
    assert [claimed.id for claimed in await claim_due(ctx, 10)] == [connection.id]
