"""Disconnecting a calendar or an inbox (S5, S6, S13)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.graph.relay import to_global_id
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import Credential
from slotgraph.models import InboxConnection
from slotgraph.models import User
from slotgraph.models.enums import ConnectionPurpose
from slotgraph.models.enums import InboxKind
from slotgraph.models.enums import Provider
from tests.helpers.accounts import CalendarSpec
from tests.helpers.accounts import Factory
from tests.helpers.connections import DISCONNECT
from tests.helpers.graphql import GraphQLClient

DISCONNECT_INBOX = """
mutation($id: ID!) { disconnectInbox(input: {inboxId: $id}) {
  __typename ... on DisconnectInboxSuccess { inbox { email status } } ... on Error { code }
} }
"""


async def test_disconnect_deletes_credentials_and_availability_but_keeps_the_inbox(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person()
    connection, calendars = await factory.connection(
        ada, provider=Provider.EXCHANGE, calendars=(CalendarSpec("Team"),)
    )
    inbox = InboxConnection(
        account_id=ada.account.id,
        user_id=ada.user.id,
        email=ada.user.email,
        kind=InboxKind.PERSONAL,
        calendar_connection_id=connection.id,
    )
    await factory.add(
        inbox,
        AvailabilityCalendar(
            account_id=ada.account.id, user_id=ada.user.id, remote_calendar_id=calendars[1].id
        ),
    )
    store = app.state.runtime.services.credentials
    async with sessionmaker.begin() as session:
        await store.save(session, connection, {"password": "hunter2"})

    result = await gql(
        DISCONNECT, {"id": to_global_id("CalendarConnection", connection.id)}, token=ada.token
    )
    assert result == {
        "data": {
            "disconnectCalendar": {
                "__typename": "DisconnectCalendarSuccess",
                "connection": {
                    "status": "DISCONNECTED",
                    "remoteCalendars": [
                        {"isAvailabilityCalendar": False},
                        {"isAvailabilityCalendar": False},
                    ],
                },
            }
        }
    }
    async with sessionmaker() as session:
        assert (await session.execute(select(Credential))).first() is None
        assert (await session.execute(select(AvailabilityCalendar))).first() is None
        kept = await session.get_one(InboxConnection, inbox.id)
        assert kept.status.value == "CONNECTED"  # S5: the inbox stays

    again = await gql(
        DISCONNECT, {"id": to_global_id("CalendarConnection", connection.id)}, token=ada.token
    )
    assert again["data"]["disconnectCalendar"]["code"] == "NOT_FOUND"

    inbox_result = await gql(
        DISCONNECT_INBOX, {"id": to_global_id("InboxConnection", inbox.id)}, token=ada.token
    )
    assert inbox_result == {
        "data": {
            "disconnectInbox": {
                "__typename": "DisconnectInboxSuccess",
                "inbox": {"email": ada.user.email, "status": "DISCONNECTED"},
            }
        }
    }


async def test_disconnecting_an_inbox_leaves_the_calendar_connected(
    gql: GraphQLClient, factory: Factory
) -> None:
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    inbox = InboxConnection(
        account_id=ada.account.id,
        user_id=ada.user.id,
        email=ada.user.email,
        kind=InboxKind.PERSONAL,
        calendar_connection_id=connection.id,
    )
    await factory.add(inbox)
    await gql(DISCONNECT_INBOX, {"id": to_global_id("InboxConnection", inbox.id)}, token=ada.token)
    status = await gql(
        "{ viewer { calendarConnections { edges { node { status } } } } }", token=ada.token
    )
    assert status["data"]["viewer"]["calendarConnections"]["edges"] == [
        {"node": {"status": "CONNECTED"}}
    ]


async def test_a_legacy_users_disconnect_ends_the_dual_setup(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person()
    calendar_side, _ = await factory.connection(ada)
    meetings_side, _ = await factory.connection(ada)
    async with sessionmaker.begin() as session:
        for row, purpose in (
            (calendar_side, ConnectionPurpose.CALENDAR_SETTINGS),
            (meetings_side, ConnectionPurpose.MEETINGS_SETTINGS),
        ):
            merged = await session.merge(row)
            merged.purpose = purpose
    await gql(
        DISCONNECT, {"id": to_global_id("CalendarConnection", calendar_side.id)}, token=ada.token
    )
    async with sessionmaker() as session:
        user = await session.get_one(User, ada.user.id)
    assert user.dual_connections_ended_at is not None
    assert user.dual_connections_ended_at <= dt.datetime.now(dt.UTC)
