"""The user picks the CalDAV calendar meetings are written to (`setMeetingsCalendar`, C3,
C28), end to end on a real Radicale: a booking then lands on the picked calendar at the
server, availability checks it as the primary (C45), a later full sync keeps the pick, a
read-only calendar is refused, another account's calendar id is unknown (C9), and a provider
that fixes its primary (here Exchange) refuses the pick."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.calsync.context import Outcome
from slotgraph.calsync.context import SyncContext
from slotgraph.calsync.engine import sync_connection
from slotgraph.models import AvailabilityCalendar
from slotgraph.models import CalendarConnection
from slotgraph.models import RemoteCalendar
from slotgraph.models.enums import CalendarAccess
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.usecases.settings import MAX_AVAILABILITY_CALENDARS
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import rows
from tests.helpers.caldav import CalendarApp
from tests.helpers.caldav import add_calendar
from tests.helpers.caldav import fresh_account
from tests.helpers.caldav_hosts import booking_events
from tests.helpers.caldav_hosts import caldav_host
from tests.helpers.caldav_servers import DavProxy
from tests.helpers.caldav_servers import Server
from tests.helpers.connections import exchange_host
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import make_outbox
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

CALENDARS = """
query { viewer { calendarConnections { edges { node {
  remoteCalendars { id name isPrimary access isAvailabilityCalendar checkedForAvailability }
} } } } }
"""
SET = """
mutation($id: ID!) { setMeetingsCalendar(input: {calendarId: $id}) {
  __typename
  ... on SetMeetingsCalendarSuccess { connection { remoteCalendars { name isPrimary } } }
  ... on Error { message field code }
} }
"""


@pytest.fixture
def calendars(radicale_server: Server) -> Iterator[tuple[int, CalendarApp, CalendarApp]]:
    """An account with two writable calendars, `Work` and `Home`, and `Team` shared
    read-only (Radicale's rights: `readonly` can only be read)."""
    with fresh_account(radicale_server) as (n, work):
        home_url = add_calendar(work.http, radicale_server.home(n), name="Home", path="home")
        folder = radicale_server.root / "collection-root" / f"u{n}" / "readonly"
        folder.mkdir()
        (folder / ".Radicale.props").write_text(
            json.dumps({"tag": "VCALENDAR", "D:displayname": "Team"})
        )
        yield n, work, CalendarApp(work.http, home_url)


async def listed(gql: GraphQLClient, token: str) -> dict[str, dict[str, Any]]:
    answer = await gql(CALENDARS, token=token)
    (edge,) = answer["data"]["viewer"]["calendarConnections"]["edges"]
    return {c["name"]: c for c in edge["node"]["remoteCalendars"]}


async def test_the_picked_calendar_holds_bookings_and_survives_a_sync(
    gql: GraphQLClient,
    factory: Factory,
    app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendars: tuple[int, CalendarApp, CalendarApp],
) -> None:
    n, work, home = calendars
    ada = await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    before = await listed(gql, ada.token)
    # The adapter proposed one of the two writable calendars (the first Radicale listed),
    # never the read-only one; the user picks the other.
    assert before["Team"]["isPrimary"] is False
    (proposed,) = [name for name in ("Work", "Home") if before[name]["isPrimary"]]
    other = "Home" if proposed == "Work" else "Work"
    picked_app, proposed_app = (home, work) if other == "Home" else (work, home)

    picked = await gql(SET, {"id": before[other]["id"]}, token=ada.token)
    assert picked["data"]["setMeetingsCalendar"]["__typename"] == "SetMeetingsCalendarSuccess"
    after = await listed(gql, ada.token)
    assert {name: (c["isPrimary"], c["checkedForAvailability"]) for name, c in after.items()} == {
        other: (True, True),  # C45: checked as the primary
        proposed: (False, True),  # the former primary stays checked, as a chosen calendar
        "Team": (False, False),
    }
    assert after[proposed]["isAvailabilityCalendar"] is True

    # A full sync of the connection (every checked calendar listed again) keeps the pick.
    async with sessionmaker() as session:
        (connection,) = (await session.execute(select(CalendarConnection))).scalars()
    ctx = SyncContext(
        sessionmaker=sessionmaker, clients=app.state.runtime.services.connection_clients
    )
    assert await sync_connection(ctx, connection.id) is Outcome.SYNCED
    assert (await listed(gql, ada.token))[other]["isPrimary"] is True

    # A booking is written to the picked calendar on the server, not to the proposed one.
    slug = await make_page(
        gql, ada, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    nine = dt.datetime.combine(next_monday(), dt.time(9), dt.UTC)
    booked = await book_with_token(
        gql, slug, nine, contact={"name": "Cleo", "email": "cleo@example.test"}
    )
    assert booked["booking"]["status"] == "CONFIRMED", booked
    outbox = make_outbox(app)
    _, messages = await rows(sessionmaker)
    (create,) = [m for m in messages if m.kind is OutboxKind.CALENDAR_CREATE]
    assert (await outbox.deliver(create.id)).state is OutboxState.DONE
    assert [(start, end) for _, start, end, _ in booking_events(picked_app)] == [
        (nine, nine + dt.timedelta(minutes=30))
    ]
    assert booking_events(proposed_app) == []


async def test_read_only_foreign_and_unknown_calendars_are_refused(
    gql: GraphQLClient,
    factory: Factory,
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendars: tuple[int, CalendarApp, CalendarApp],
) -> None:
    n, _, _ = calendars
    ada = await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    mine = await listed(gql, ada.token)

    refused = await gql(SET, {"id": mine["Team"]["id"]}, token=ada.token)
    error = refused["data"]["setMeetingsCalendar"]
    assert (error["__typename"], error["field"]) == ("ValidationError", "calendarId"), error
    assert "read-only" in error["message"]

    bea = await factory.person(url_prefix="bea", name="Bea")  # another account
    foreign = await gql(SET, {"id": mine["Home"]["id"]}, token=bea.token)
    assert foreign["data"]["setMeetingsCalendar"]["__typename"] == "NotFound", foreign
    garbage = await gql(SET, {"id": "not-an-id"}, token=ada.token)
    assert garbage["data"]["setMeetingsCalendar"]["__typename"] == "NotFound", garbage

    assert await listed(gql, ada.token) == mine  # nothing changed


async def test_a_provider_that_fixes_the_primary_refuses_the_pick(
    gql: GraphQLClient, factory: Factory, exchange: FakeExchange
) -> None:
    ada = await exchange_host(gql, factory, exchange)
    mine = await listed(gql, ada.token)
    (calendar,) = [c for c in mine.values() if not c["isPrimary"] and c["access"] != "READER"][:1]

    refused = await gql(SET, {"id": calendar["id"]}, token=ada.token)
    error = refused["data"]["setMeetingsCalendar"]
    assert (error["__typename"], error["field"]) == ("ProviderLimitation", "calendarId"), error
    assert "Exchange" in error["message"]
    assert await listed(gql, ada.token) == mine


async def test_a_pick_that_would_exceed_the_availability_calendar_cap_is_refused(
    gql: GraphQLClient,
    factory: Factory,
    radicale_server: Server,
    radicale_proxy: DavProxy,
    calendars: tuple[int, CalendarApp, CalendarApp],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The former primary joins the availability calendars (S12); at the cap it cannot, so
    the pick is refused with what to do, and nothing changes."""
    n, _, _ = calendars
    ada = await caldav_host(gql, factory, radicale_server, radicale_proxy, n)
    mine = await listed(gql, ada.token)
    async with sessionmaker.begin() as session:
        connection = (await session.execute(select(CalendarConnection))).scalar_one()
        for number in range(MAX_AVAILABILITY_CALENDARS):
            filler = RemoteCalendar(
                account_id=connection.account_id,
                connection_id=connection.id,
                remote_id=f"filler-{number}",
                name=f"Filler {number}",
                access=CalendarAccess.READER,
            )
            session.add(filler)
            await session.flush()
            session.add(
                AvailabilityCalendar(
                    account_id=connection.account_id,
                    user_id=connection.user_id,
                    remote_calendar_id=filler.id,
                )
            )
    before = await listed(gql, ada.token)
    (other,) = [name for name in ("Work", "Home") if not mine[name]["isPrimary"]]

    refused = await gql(SET, {"id": mine[other]["id"]}, token=ada.token)
    error = refused["data"]["setMeetingsCalendar"]
    assert (error["__typename"], error["field"]) == ("ValidationError", "calendarId"), error
    assert "Remove one" in error["message"]
    assert await listed(gql, ada.token) == before
