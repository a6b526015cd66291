"""What account administration must keep whatever admins do (C37, C39), over HTTP: an
account never ends up without an active admin (the last one cannot demote themself, and
two admins deactivating or demoting each other at the same moment leave one of them), and
reactivating a user takes a seat only within the plan."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from slotgraph.models import Account
from slotgraph.models import User
from slotgraph.models.enums import Role
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.graphql import GraphQLClient

VIEWER_ID = "query { viewer { id } }"
UPDATE_ROLE = """
mutation Update($id: ID!, $role: Role!) {
  updateUser(input: {id: $id, role: $role}) {
    __typename
    ... on UserSuccess { user { role } }
    ... on Error { message field code }
  }
}
"""
DEACTIVATE = """
mutation Deactivate($id: ID!) {
  deactivateUser(input: {id: $id}) { __typename ... on Error { message field code } }
}
"""
REACTIVATE = """
mutation Reactivate($id: ID!) {
  reactivateUser(input: {id: $id}) { __typename ... on Error { message field code } }
}
"""


async def _id(gql: GraphQLClient, person: Person) -> str:
    result = await gql(VIEWER_ID, token=person.token)
    user_id: str = result["data"]["viewer"]["id"]
    return user_id


async def _active_admins(factory: Factory, person: Person) -> int:
    async with factory.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.account_id == person.account.id,
                User.role == Role.ADMIN,
                User.deactivated_at.is_(None),
            )
        )
    return int(count or 0)


async def test_the_last_admin_cannot_demote_themself(gql: GraphQLClient, factory: Factory) -> None:
    ann = await factory.person(role=Role.ADMIN, name="Ann")
    me = await _id(gql, ann)
    refused = await gql(UPDATE_ROLE, {"id": me, "role": "MEMBER"}, token=ann.token)
    assert refused["data"]["updateUser"] == {
        "__typename": "LastAdmin",
        "message": "Ann is the account's only active admin; make another user admin first.",
        "field": "role",
        "code": "LAST_ADMIN",
    }
    assert await _active_admins(factory, ann) == 1

    # With a second admin, stepping down is fine.
    bea = await factory.person(role=Role.ADMIN, name="Bea", account=ann.account)
    assert bea.account.id == ann.account.id
    done = await gql(UPDATE_ROLE, {"id": me, "role": "MEMBER"}, token=ann.token)
    assert done["data"]["updateUser"] == {"__typename": "UserSuccess", "user": {"role": "MEMBER"}}


async def _until_waiting_on_locks(factory: Factory, count: int) -> None:
    """Until `count` backends of this database wait for a lock (the two mutations)."""
    for _ in range(200):
        async with factory.sessionmaker() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        if (waiting or 0) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the mutations never reached their locks")


@pytest.mark.parametrize("change", ["deactivate", "demote"])
async def test_two_admins_removing_each_other_at_once_leave_one(
    gql: GraphQLClient, factory: Factory, change: str
) -> None:
    ann = await factory.person(role=Role.ADMIN, name="Ann")
    bea = await factory.person(role=Role.ADMIN, name="Bea", account=ann.account)
    ann_id, bea_id = await _id(gql, ann), await _id(gql, bea)

    def call(token: str, target: str) -> Any:
        if change == "deactivate":
            return gql(DEACTIVATE, {"id": target}, token=token)
        return gql(UPDATE_ROLE, {"id": target, "role": "MEMBER"}, token=token)

    # Both calls pass their admin check, then meet the admins' rows, held here until both
    # wait: the moment they would both go ahead.
    async with factory.sessionmaker.begin() as hold:
        await hold.execute(
            select(User.id).where(User.account_id == ann.account.id).with_for_update()
        )
        calls = [
            asyncio.ensure_future(call(ann.token, bea_id)),
            asyncio.ensure_future(call(bea.token, ann_id)),
        ]
        await _until_waiting_on_locks(factory, 2)
    answers = [next(iter(r["data"].values())) for r in await asyncio.gather(*calls)]

    success = "DeactivateUserSuccess" if change == "deactivate" else "UserSuccess"
    assert sorted(a["__typename"] for a in answers) == sorted(["PermissionDenied", success])
    assert await _active_admins(factory, ann) == 1


async def test_reactivating_a_user_takes_a_seat_only_within_the_plan(
    gql: GraphQLClient, factory: Factory
) -> None:
    ann = await factory.person(role=Role.ADMIN, name="Ann")  # a Sales seat
    bo = await factory.person(name="Bo", account=ann.account)  # Sales
    bo_id = await _id(gql, bo)
    assert (await gql(DEACTIVATE, {"id": bo_id}, token=ann.token))["data"]["deactivateUser"] == {
        "__typename": "DeactivateUserSuccess"
    }
    cy = await factory.person(name="Cy", account=ann.account)  # Bo's seat, while Bo is away
    async with factory.sessionmaker.begin() as session:
        account = await session.get(Account, ann.account.id)
        assert account is not None
        account.sales_seats = 2

    refused = await gql(REACTIVATE, {"id": bo_id}, token=ann.token)
    assert refused["data"]["reactivateUser"] == {
        "__typename": "PlanFeatureRequired",
        "message": "All 2 SALES seats of the account's plan are taken.",
        "field": "seat",
        "code": "PLAN_FEATURE_REQUIRED",
    }
    async with factory.sessionmaker() as session:
        still = await session.get(User, bo.user.id)
        assert still is not None
        assert still.deactivated_at is not None

    await gql(DEACTIVATE, {"id": await _id(gql, cy)}, token=ann.token)
    back = await gql(REACTIVATE, {"id": bo_id}, token=ann.token)
    assert back["data"]["reactivateUser"] == {"__typename": "UserSuccess"}
