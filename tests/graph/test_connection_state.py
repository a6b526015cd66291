"""What a connection and its calendars say about themselves, over HTTP: the status and the
sync state never contradict each other, whatever the two stored columns hold (C1, C2, C27),
and `checkedForAvailability` says exactly which calendars availability reads (C45), while
`isAvailabilityCalendar` keeps S12's meaning (an extra calendar the user chose)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from slotgraph.calendars.checked import booking_calendars
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models.enums import CalendarStatus
from slotgraph.models.enums import ConnectionStatus
from slotgraph.models.enums import SyncState
from tests.helpers.accounts import CalendarSpec
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient

CONNECTIONS = """
{ viewer { calendarConnections { edges { node {
  id status syncState lastSyncedAt lastError
  remoteCalendars { name isPrimary status isAvailabilityCalendar checkedForAvailability }
} } } } }
"""
NODE = """
query One($id: ID!) {
  node(id: $id) { ... on CalendarConnection { status syncState lastSyncedAt } }
}
"""


async def test_status_and_sync_state_never_contradict_each_other(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Every stored pair, as writers can leave it (lost access is marked by whoever meets
    it, without touching the sync columns): SYNCED only with `lastSyncedAt`, never SYNCED or
    IDLE while ACCESS_LOST, IDLE once DISCONNECTED."""
    ada = await factory.person(url_prefix="ada")
    connection, _ = await factory.connection(ada)
    listed = await gql(CONNECTIONS, token=ada.token)
    global_id = listed["data"]["viewer"]["calendarConnections"]["edges"][0]["node"]["id"]
    synced_at = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
    seen = set()
    for status, state, last in itertools.product(ConnectionStatus, SyncState, (None, synced_at)):
        async with sessionmaker.begin() as session:
            await session.execute(
                update(CalendarConnection)
                .where(CalendarConnection.id == connection.id)
                .values(status=status, sync_state=state, last_synced_at=last)
            )
        result = await gql(NODE, {"id": global_id}, token=ada.token)
        shown = result["data"]["node"]
        assert shown["status"] == status.value
        if shown["syncState"] == "SYNCED":
            assert shown["lastSyncedAt"] is not None, (status, state, last)
        if status is ConnectionStatus.ACCESS_LOST:
            assert shown["syncState"] in {"ERROR", "SYNCING"}, (status, state, last)
        if status is ConnectionStatus.DISCONNECTED:
            assert shown["syncState"] == "IDLE", (status, state, last)
        if status is ConnectionStatus.CONNECTED and (state, last) != (SyncState.SYNCED, None):
            assert shown["syncState"] == state.value  # nothing to reconcile: as stored
        seen.add(shown["syncState"])
    assert seen == {state.value for state in SyncState}


async def test_checked_for_availability_says_which_calendars_availability_reads(
    gql: GraphQLClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ada = await factory.person(url_prefix="ada", name="Ada")
    _, calendars = await factory.connection(
        ada,
        calendars=(
            CalendarSpec(name="Team"),
            CalendarSpec(name="Holidays"),
            CalendarSpec(name="Gone", status=CalendarStatus.ACCESS_LOST),
        ),
    )
    primary, team, _, gone = calendars
    await factory.add(
        *(
            AvailabilityCalendar(
                account_id=ada.account.id, user_id=ada.user.id, remote_calendar_id=row.id
            )
            for row in (team, gone)
        )
    )
    bob = await factory.person(url_prefix="bob", name="Bob")
    await factory.connection(bob, scheduling_pages=False)  # C5: not used for booking

    async def shown(token: str) -> dict[str, tuple[bool, bool]]:
        result = await gql(CONNECTIONS, token=token)
        [edge] = result["data"]["viewer"]["calendarConnections"]["edges"]
        return {
            c["name"]: (c["isAvailabilityCalendar"], c["checkedForAvailability"])
            for c in edge["node"]["remoteCalendars"]
        }

    # (isAvailabilityCalendar, checkedForAvailability)
    assert await shown(ada.token) == {
        "Ada": (False, True),  # the primary: checked, never "chosen"
        "Team": (True, True),
        "Holidays": (False, False),
        "Gone": (True, True),  # still checked: it stops booking until removed (S13)
    }
    assert await shown(bob.token) == {"Bob": (False, False)}
    # The field and availability's own reading of the rule agree, calendar by calendar.
    async with sessionmaker() as session:
        read = {
            row.name
            for user in (ada.user.id, bob.user.id)
            for _, rows in await booking_calendars(session, user)
            for row in rows
        }
    assert read == {"Ada", "Team", "Gone"}
    assert primary.name == "Ada"
