"""syncCalendarConnection and the connection's sync status (C1, C9),
and availableSlots answered from synced busy time: GraphQL over HTTP, an Exchange
connection made through connectExchangeCalendar, the sync worker running with the app's own
provider registry and credential store against the EWS fake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from exchangelib.protocol import close_connections
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.scheduler import run_due_syncs
from slotgraph.models.enums import Scope
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import ScriptedEvent
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.connections import CONNECT
from tests.helpers.connections import SYNC
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import SLOTS
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

STATUS = """
query Status($id: ID!) { node(id: $id) { ... on CalendarConnection {
  status syncState lastError eventsSynced
} } }
"""

# Two Mondays ahead: clear of any minimum notice, inside the synced window.
MONDAY = next_monday() + dt.timedelta(days=7)
TEN = dt.datetime.combine(MONDAY, dt.time(10), dt.UTC)


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    meeting = ScriptedEvent("meeting", "Team meeting", TEN, TEN + dt.timedelta(hours=1))
    with FakeExchange(events=(meeting,)) as fake:
        yield fake
    close_connections()


async def connect(gql: GraphQLClient, person: Person, exchange: FakeExchange) -> str:
    result = await gql(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=person.token,
    )
    return str(result["data"]["connectExchangeCalendar"]["connection"]["id"])


def worker(app: Starlette, sessionmaker: async_sessionmaker[AsyncSession]) -> SyncContext:
    """A sync worker as a process would build it: the app's registry and credentials."""
    clients = app.state.runtime.services.connection_clients
    return SyncContext(sessionmaker=sessionmaker, clients=clients, worker="test-worker")


async def test_sync_on_demand_then_the_connection_shows_its_sync_status(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person()
    connection_id = await connect(gql, ada, exchange)
    ctx = worker(app, sessionmaker)
    assert await run_due_syncs(ctx) == [Outcome.SYNCED]  # a new connection is due at once
    assert await run_due_syncs(ctx) == []  # and then not again before the interval

    before = dt.datetime.now(dt.UTC)
    result = await gql(SYNC, {"input": {"connectionId": connection_id}}, token=ada.token)

    answer = result["data"]["syncCalendarConnection"]
    next_sync_at = dt.datetime.fromisoformat(answer["connection"].pop("nextSyncAt"))
    last_synced_at = answer["connection"].pop("lastSyncedAt")
    assert answer == {
        "__typename": "SyncCalendarConnectionSuccess",
        "connection": {
            "status": "CONNECTED",
            "syncState": "SYNCED",  # unchanged until a worker claims it
            "lastError": None,
            "eventsSynced": 1,
        },
    }
    assert last_synced_at is not None
    assert before <= next_sync_at <= dt.datetime.now(dt.UTC)  # due now

    exchange.fail("http503", times=None)
    assert await run_due_syncs(ctx) == [Outcome.FAILED]
    status = await gql(STATUS, {"id": connection_id}, token=ada.token)
    assert status == {
        "data": {
            "node": {
                "status": "CONNECTED",  # C1: the grant is fine, the sync failed
                "syncState": "ERROR",
                "lastError": "Exchange had a temporary problem (HTTP 503); try again later. "
                "The sync will be retried automatically.",
                "eventsSynced": 1,
            }
        }
    }


async def test_sync_of_a_foreign_or_unknown_connection_is_not_found_and_needs_the_scope(
    gql: GraphQLClient, factory: Factory, exchange: FakeExchange
) -> None:
    ada = await factory.person()
    connection_id = await connect(gql, ada, exchange)
    mallory = await factory.person(name="Mallory")
    reader = await factory.person(account=ada.account, scopes=(Scope.READ,))

    foreign = await gql(SYNC, {"input": {"connectionId": connection_id}}, token=mallory.token)
    unknown = await gql(SYNC, {"input": {"connectionId": "nonsense"}}, token=ada.token)
    scoped = await gql(SYNC, {"input": {"connectionId": connection_id}}, token=reader.token)

    not_found = {
        "data": {
            "syncCalendarConnection": {
                "__typename": "NotFound",
                "message": "No connected calendar with this id in your account; list yours "
                "with the `viewer` query.",
                "field": "connectionId",
                "code": "NOT_FOUND",
            }
        }
    }
    assert foreign == not_found
    assert unknown == not_found
    assert scoped["data"]["syncCalendarConnection"]["__typename"] == "PermissionDenied"


async def test_synced_busy_time_hides_slots_without_asking_the_provider(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await factory.person()
    await connect(gql, ada, exchange)
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    window = {
        "slug": slug,
        "start": TEN.replace(hour=0).isoformat(),
        "end": (TEN.replace(hour=0) + dt.timedelta(days=1)).isoformat(),
        "tz": "UTC",
    }
    assert await run_due_syncs(worker(app, sessionmaker)) == [Outcome.SYNCED]
    exchange.fail("http503", times=None)  # read live, this would be AvailabilityUnknown
    mark = len(exchange.requests)

    result = await gql(SLOTS, window)

    def slot(hhmm: str) -> dict[str, Any]:
        start = dt.datetime.combine(MONDAY, dt.time.fromisoformat(hhmm), dt.UTC)
        return {
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(),
        }

    assert result == {
        "data": {
            "availableSlots": {
                "__typename": "AvailableSlots",
                "duration": 30,
                "timeZone": "UTC",
                "offline": False,
                "days": [
                    {
                        "date": MONDAY.isoformat(),
                        "slots": [
                            slot(t) for t in ("09:00", "09:15", "09:30", "11:00", "11:15", "11:30")
                        ],
                    }
                ],
            }
        }
    }
    assert exchange.requests[mark:] == []  # answered from the synced events alone


async def test_an_unreadable_item_is_counted_on_the_connection_and_the_rest_syncs(
    gql: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    broken = exchange.add_event(
        ScriptedEvent("broken", "Broken", TEN + dt.timedelta(hours=3), TEN + dt.timedelta(hours=4))
    )
    exchange.unreadable.add(broken.id)
    ada = await factory.person()
    connection_id = await connect(gql, ada, exchange)

    assert await run_due_syncs(worker(app, sessionmaker)) == [Outcome.SYNCED]

    status = await gql(COUNTED, {"id": connection_id}, token=ada.token)
    assert status == {
        "data": {"node": {"syncState": "SYNCED", "eventsSynced": 1, "skippedItems": 1}}
    }


COUNTED = """
query Counted($id: ID!) { node(id: $id) { ... on CalendarConnection {
  syncState eventsSynced skippedItems
} } }
"""
