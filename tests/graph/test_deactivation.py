"""Deactivating a user (C50): their bookings stay, the admin is told which future bookings they
had, their push channels stop (the rows go, so the provider's notifications are refused), and
reactivateUser undoes it (their token works again and their page takes bookings)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from slotgraph.graph.relay import to_global_id
from slotgraph.models import Booking
from slotgraph.models import CalendarWatch
from slotgraph.models import Contact
from slotgraph.models.enums import BookingStatus
from slotgraph.models.enums import Provider
from slotgraph.models.enums import Role
from tests.helpers.accounts import CalendarSpec
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient

DEACTIVATE = """
mutation($id: ID!) {
  deactivateUser(input: {id: $id}) {
    __typename
    ... on DeactivateUserSuccess { user { id deactivatedAt } futureBookings { id status } }
    ... on Error { message code }
  }
}
"""
REACTIVATE = """
mutation($id: ID!) {
  reactivateUser(input: {id: $id}) {
    __typename
    ... on UserSuccess { user { deactivatedAt } }
    ... on Error { message code }
  }
}
"""
VIEWER = "query { viewer { email } }"


async def test_deactivation_keeps_bookings_lists_the_future_ones_and_stops_push_channels(
    gql: GraphQLClient, factory: Factory
) -> None:
    admin = await factory.person(name="Admin", role=Role.ADMIN)
    member = await factory.person(name="Bo", account=admin.account)
    connection, (_, team) = await factory.connection(member, calendars=(CalendarSpec("Team"),))
    await factory.add(
        CalendarWatch(
            connection_id=connection.id,
            remote_calendar_id=team.id,
            provider=Provider.GOOGLE,
            remote_id="channel-1",
            resource_id="resource-1",
            token_hash="0" * 64,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
        )
    )
    contact = Contact(account_id=admin.account.id, email="c@example.test", name="C")
    await factory.add(contact)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def booking(days: int, status: BookingStatus) -> Booking:
        start = now + dt.timedelta(days=days)
        return Booking(
            account_id=admin.account.id,
            host_user_id=member.user.id,
            contact_id=contact.id,
            title="Intro",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=30),
            time_zone="UTC",
            status=status,
            answers={},
        )

    past = booking(-3, BookingStatus.CONFIRMED)
    later = booking(9, BookingStatus.CONFIRMED)
    soon = booking(2, BookingStatus.REQUESTED)
    cancelled = booking(5, BookingStatus.CANCELLED)
    await factory.add(past, later, soon, cancelled)

    member_id = to_global_id("User", member.user.id)
    done = await gql(DEACTIVATE, {"id": member_id}, token=admin.token)
    result = done["data"]["deactivateUser"]
    assert result["__typename"] == "DeactivateUserSuccess"
    assert result["futureBookings"] == [
        {"id": to_global_id("Booking", soon.id), "status": "REQUESTED"},
        {"id": to_global_id("Booking", later.id), "status": "CONFIRMED"},
    ]
    async with factory.sessionmaker() as session:
        kept = {b.id: b.status for b in await session.scalars(select(Booking))}
        channels = list(await session.scalars(select(CalendarWatch)))
    assert kept == {
        past.id: BookingStatus.CONFIRMED,
        later.id: BookingStatus.CONFIRMED,
        soon.id: BookingStatus.REQUESTED,
        cancelled.id: BookingStatus.CANCELLED,
    }
    assert channels == []
    refused = await gql.http.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {member.token}"}
    )
    assert refused.status_code == 401

    back = await gql(REACTIVATE, {"id": member_id}, token=admin.token)
    assert back["data"]["reactivateUser"] == {
        "__typename": "UserSuccess",
        "user": {"deactivatedAt": None},
    }
    assert (await gql(VIEWER, token=member.token))["data"]["viewer"]["email"] == member.user.email


async def test_a_member_cannot_deactivate_anyone(gql: GraphQLClient, factory: Factory) -> None:
    admin = await factory.person(name="Admin", role=Role.ADMIN)
    member = await factory.person(name="Bo", account=admin.account)
    answer = await gql(DEACTIVATE, {"id": to_global_id("User", admin.user.id)}, token=member.token)
    assert answer["data"]["deactivateUser"]["code"] == "PERMISSION_DENIED"
