"""Subscriptions across two `slotgraph serve` processes on one database, through a real
graphql-transport-ws client (`gql`): a change made through process A reaches subscribers
on process B by LISTEN/NOTIFY, and a booking also by NATS (`SLOTGRAPH_PUBSUB=nats`) (C1, C9,
C10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from exchangelib.protocol import close_connections
from gql import Client
from gql import GraphQLRequest
from gql import gql
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import func
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench.serve import SLOTGRAPH
from bench.serve import Served
from bench.serve import serve
from slotgraph.models import CalendarConnection
from slotgraph.models.crypto import generate_key
from slotgraph.models.enums import SyncState
from slotgraph.notices.changes import publish_connection_changed
from slotgraph.notices.postgres_pubsub import PostgresPubSub
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.connections import CONNECT
from tests.helpers.connections import SYNC
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import make_page
from tests.helpers.pages import next_monday

GUARD = 15  # seconds; a guard against hanging, never a measurement

AVAILABILITY = gql(
    """
    subscription Slots($slug: String!, $start: DateTime!, $end: DateTime!, $zone: String!) {
      availabilityChanged(pageSlug: $slug, start: $start, end: $end, timeZone: $zone) {
        __typename
        ... on AvailabilityChange {
          snapshot offline duration timeZone days { date slots { start } }
        }
        ... on Error { message field code }
        ... on PageUnavailable { reason }
      }
    }
    """
)
SYNC_STATUS = gql(
    """
    subscription Sync($id: ID!) {
      syncStatus(connectionId: $id) {
        __typename
        ... on SyncStatus { status syncState lastError eventsSynced connection { id status } }
        ... on Error { code field }
      }
    }
    """
)
BOOK = """
mutation($input: BookMeetingInput!) { bookMeeting(input: $input) { __typename } }
"""
DISCONNECT = """
mutation($id: ID!) {
  disconnectCalendar(input: {connectionId: $id}) { __typename }
}
"""
BOOK_WITH_TOKEN = """
mutation($input: BookMeetingInput!) {
  bookMeeting(input: $input) { __typename ... on BookMeetingSuccess { manageToken } }
}
"""
CANCEL_AS_CONTACT = """
mutation($token: String!) {
  cancelBookingAsContact(input: {manageToken: $token, reason: "Something came up"}) {
    __typename
  }
}
"""
TURN_OFF_PAGES = """
mutation { updateCalendarSettings(input: {schedulingPagesEnabled: false}) { __typename } }
"""


@pytest.fixture(scope="module")
def processes(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Served, Served]]:
    """Two API processes, A and B, each with its own pub/sub listener and no background
    workers: the one test that needs a worker starts its own `slotgraph worker`. The
    notices travel by LISTEN/NOTIFY unless a test asks for `nats` (indirect parameter)."""
    key, logs = generate_key(), tmp_path_factory.mktemp("serve")
    api_only = {"SLOTGRAPH_RUN_WORKER": "false"}
    if getattr(request, "param", "postgres") == "nats":
        api_only |= {
            "SLOTGRAPH_PUBSUB": "nats",
            "SLOTGRAPH_NATS_URL": request.getfixturevalue("nats_url"),
            "SLOTGRAPH_NATS_SUBJECT_PREFIX": f"test_{secrets.token_hex(4)}",
        }
    a = serve(database_url, key, logs, extra_env=api_only)
    b = serve(database_url, key, logs, extra_env=api_only)
    yield a, b
    assert (a.stop(), b.stop()) == (0, 0)


@pytest.fixture
def exchange() -> Iterator[FakeExchange]:
    with FakeExchange() as fake:
        yield fake
    close_connections()


@pytest.fixture
async def on_a(processes: tuple[Served, Served]) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=processes[0].base, timeout=GUARD) as client:
        yield GraphQLClient(client)


@asynccontextmanager
async def websocket(served: Served, token: str | None = None) -> AsyncIterator[AsyncClientSession]:
    payload = {"authorization": f"Bearer {token}"} if token else {}
    transport = WebsocketsTransport(url=served.ws_url, init_payload=payload, connect_timeout=5)
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield session


@asynccontextmanager
async def subscription(
    served: Served, document: Any, variables: dict[str, Any], token: str | None = None
) -> AsyncIterator[AsyncGenerator[dict[str, Any], None]]:
    """A live subscription; closed before its socket, so the client need not wait for the
    server to complete it."""
    async with websocket(served, token) as session:
        stream = session.subscribe(GraphQLRequest(document, variable_values=variables))
        try:
            yield stream
        finally:
            await stream.aclose()


async def next_event(stream: Any) -> dict[str, Any]:
    event: dict[str, Any] = await asyncio.wait_for(anext(stream), GUARD)
    return event


def starts(monday: dt.date, *times: str) -> list[dict[str, str]]:
    return [
        {"start": dt.datetime.combine(monday, dt.time.fromisoformat(t), dt.UTC).isoformat()}
        for t in times
    ]


async def host_with_page(on_a: GraphQLClient, factory: Factory) -> tuple[Person, str]:
    ada = await factory.person(url_prefix="ada", name="Ada")
    slug = await make_page(
        on_a,
        ada,
        durations=[30],
        weeklyHours=[{"weekday": "MONDAY", "start": "10:00", "end": "11:30"}],
    )
    return ada, slug


def window(monday: dt.date) -> dict[str, str]:
    start = dt.datetime.combine(monday, dt.time(), dt.UTC)
    return {
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "zone": "UTC",
    }


def change(monday: dt.date, *times: str, snapshot: bool = False) -> dict[str, Any]:
    """The availabilityChanged event for the host_with_page day offering `times`."""
    return {
        "availabilityChanged": {
            "__typename": "AvailabilityChange",
            "snapshot": snapshot,
            "offline": True,
            "duration": 30,
            "timeZone": "UTC",
            "days": [{"date": monday.isoformat(), "slots": starts(monday, *times)}],
        }
    }


ALL_DAY = ("10:00", "10:15", "10:30", "10:45", "11:00")


def booking_at_10_15(slug: str, monday: dt.date) -> dict[str, Any]:
    return {
        "input": {
            "pageSlug": slug,
            "start": dt.datetime.combine(monday, dt.time(10, 15), dt.UTC).isoformat(),
            "timeZone": "UTC",
            "contact": {"name": "Cleo", "email": "cleo@example.test"},
        }
    }


@pytest.mark.parametrize("processes", ["postgres", "nats"], indirect=True)
async def test_a_booking_through_a_changes_the_day_for_subscribers_on_b(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    _, b = processes
    _, slug = await host_with_page(on_a, factory)
    monday = next_monday()
    async with subscription(
        b, AVAILABILITY, {"slug": slug, **window(monday)}
    ) as stream:  # anonymous: availabilityChanged is public (C10)
        assert await next_event(stream) == change(monday, *ALL_DAY, snapshot=True)
        booked = await on_a(BOOK, booking_at_10_15(slug, monday))
        assert booked == {"data": {"bookMeeting": {"__typename": "BookMeetingSuccess"}}}
        assert await next_event(stream) == change(monday, "10:45", "11:00")


async def test_a_contact_cancelling_through_a_gives_the_slot_back_to_subscribers_on_b(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    """The manage token from the confirmation cancels on A; B's subscribers see the freed
    slot, and the ones its meeting overlapped, offered again (S12, C1)."""
    _, b = processes
    _, slug = await host_with_page(on_a, factory)
    monday = next_monday()
    booked = await on_a(
        BOOK_WITH_TOKEN,
        booking_at_10_15(slug, monday),
    )
    token = booked["data"]["bookMeeting"]["manageToken"]
    assert isinstance(token, str)
    async with subscription(b, AVAILABILITY, {"slug": slug, **window(monday)}) as stream:
        assert await next_event(stream) == change(monday, "10:45", "11:00", snapshot=True)
        cancelled = await on_a(CANCEL_AS_CONTACT, {"token": token})
        assert cancelled == {
            "data": {"cancelBookingAsContact": {"__typename": "CancelBookingAsContactSuccess"}}
        }
        assert await next_event(stream) == change(monday, *ALL_DAY)


async def test_pages_turned_off_through_a_reach_b_as_a_typed_reason(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    _, b = processes
    ada, slug = await host_with_page(on_a, factory)
    async with subscription(b, AVAILABILITY, {"slug": slug, **window(next_monday())}) as stream:
        assert (await next_event(stream))["availabilityChanged"]["snapshot"] is True
        turned_off = await on_a(TURN_OFF_PAGES, token=ada.token)
        assert turned_off == {
            "data": {"updateCalendarSettings": {"__typename": "UpdateCalendarSettingsSuccess"}}
        }
        event = await next_event(stream)
        assert event["availabilityChanged"]["__typename"] == "PageUnavailable"
        assert event["availabilityChanged"]["reason"] == "PAGES_TURNED_OFF"  # S17


async def test_sync_status_on_b_follows_a_disconnect_through_a(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    _, b = processes
    ada = await factory.person(name="Ada")
    connection, _ = await factory.connection(ada)
    connection_id = await global_connection_id(on_a, ada)
    async with subscription(b, SYNC_STATUS, {"id": connection_id}, ada.token) as stream:
        assert await next_event(stream) == sync_event(connection_id, "CONNECTED", "IDLE")
        disconnected = await on_a(DISCONNECT, {"id": connection_id}, token=ada.token)
        assert disconnected == {
            "data": {"disconnectCalendar": {"__typename": "DisconnectCalendarSuccess"}}
        }
        assert await next_event(stream) == sync_event(connection_id, "DISCONNECTED", "IDLE")
    assert connection.id > 0


async def set_sync_state(
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: PostgresPubSub,
    connection_id: int,
    state: SyncState,
    events: int,
) -> None:
    """What the sync engine does: write the state, commit, then one call to publish."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(CalendarConnection)
            .where(CalendarConnection.id == connection_id)
            .values(sync_state=state, events_synced=events)
            # As the sync engine writes it: SYNCED always with its time (C1).
            .values(last_synced_at=func.now() if state is SyncState.SYNCED else None)
        )
    await publish_connection_changed(publisher, connection_id)


async def test_sync_state_changes_published_by_any_process_reach_b(
    processes: tuple[Served, Served],
    on_a: GraphQLClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    engine: AsyncEngine,
) -> None:
    """What the sync engine does: write the state, commit, then one call to publish. The
    same viewer's second socket, opened after the first frames, joins the first one's group
    (issue 15, C49): its first frame is the state read when it joined, then it gets the next
    change with the first."""
    _, b = processes
    ada = await factory.person(name="Ada")
    connection, _ = await factory.connection(ada)
    connection_id = await global_connection_id(on_a, ada)
    worker = PostgresPubSub(database_url)  # publishing needs no listener

    async def set_state(state: SyncState, events: int) -> None:
        await set_sync_state(sessionmaker, worker, connection.id, state, events)

    try:
        async with subscription(b, SYNC_STATUS, {"id": connection_id}, ada.token) as stream:
            assert await next_event(stream) == sync_event(connection_id, "CONNECTED", "IDLE")
            await set_state(SyncState.SYNCING, 0)
            assert await next_event(stream) == sync_event(connection_id, "CONNECTED", "SYNCING")
            async with subscription(b, SYNC_STATUS, {"id": connection_id}, ada.token) as late:
                syncing = sync_event(connection_id, "CONNECTED", "SYNCING")
                assert await next_event(late) == syncing
                await set_state(SyncState.SYNCED, 12)
                synced = sync_event(connection_id, "CONNECTED", "SYNCED", 12)
                assert await next_event(stream) == synced
                assert await next_event(late) == synced
    finally:
        await worker.stop()


async def test_a_sync_asked_through_a_and_run_by_a_worker_moves_sync_status_on_b(
    processes: tuple[Served, Served],
    on_a: GraphQLClient,
    factory: Factory,
    exchange: FakeExchange,
    database_url: str,
    tmp_path: Path,
) -> None:
    """Background sync's acceptance case: two API processes and one worker process on one
    database; a subscriber on B sees SYNCING then SYNCED for a sync asked for through A."""
    a, b = processes
    ada = await factory.person(name="Ada")
    connected = await on_a(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    connection_id = connected["data"]["connectExchangeCalendar"]["connection"]["id"]
    # Each EWS answer takes a while, so SYNCING lasts long enough to be seen (notices carry
    # ids only: a state shorter than a re-read may be skipped, by design).
    exchange.fail("slow", times=None, delay=0.5)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_SECRET_KEYS": a.secret_key,
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
        "SLOTGRAPH_SYNC_POLL_SECONDS": "0.2",
        "SLOTGRAPH_DB_POOL_SIZE": "2",
    }
    async with subscription(b, SYNC_STATUS, {"id": connection_id}, ada.token) as stream:
        first = await next_event(stream)
        assert first["syncStatus"]["syncState"] == "IDLE"
        with (tmp_path / "worker.log").open("wb") as stderr:
            worker = await anyio.open_process(
                [SLOTGRAPH, "worker", "--no-migrate"], env=env, stderr=stderr
            )
        try:
            # The new connection is due at once: the worker's first sweep syncs it.
            assert await states_until_synced(stream) == ["SYNCING", "SYNCED"]
            asked = await on_a(SYNC, {"input": {"connectionId": connection_id}}, token=ada.token)
            assert asked["data"]["syncCalendarConnection"]["__typename"] == (
                "SyncCalendarConnectionSuccess"
            )
            assert await states_until_synced(stream) == ["SYNCING", "SYNCED"]
        finally:
            worker.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                await worker.wait()
            await worker.aclose()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-2000:]


async def states_until_synced(stream: Any) -> list[str]:
    """The sync states a subscriber sees up to the next SYNCED."""
    states: list[str] = []
    while not states or states[-1] != "SYNCED":
        event = await next_event(stream)
        state = event["syncStatus"]["syncState"]
        assert state in {"SYNCING", "SYNCED"}, event
        states.append(state)
    return states


async def test_sync_status_needs_a_signed_in_session(processes: tuple[Served, Served]) -> None:
    _, b = processes
    async with websocket(b) as session:
        events = [
            event
            async for event in session.subscribe(
                GraphQLRequest(SYNC_STATUS, variable_values={"id": "Q2FsZW5kYXJDb25uZWN0aW9uOjE="})
            )
        ]
    assert events == [
        {
            "syncStatus": {
                "__typename": "PermissionDenied",
                "code": "PERMISSION_DENIED",
                "field": None,
            }
        }
    ]


async def test_sync_status_of_a_foreign_connection_is_not_found(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    _, b = processes
    ada, eve = await factory.person(name="Ada"), await factory.person(name="Eve")
    await factory.connection(ada)
    adas_connection = await global_connection_id(on_a, ada)
    async with websocket(b, eve.token) as session:
        for connection_id in (adas_connection, "not-an-id"):
            events = [
                event
                async for event in session.subscribe(
                    GraphQLRequest(SYNC_STATUS, variable_values={"id": connection_id})
                )
            ]
            assert events == [
                {
                    "syncStatus": {
                        "__typename": "NotFound",
                        "code": "NOT_FOUND",
                        "field": "connectionId",
                    }
                }
            ]


async def global_connection_id(on_a: GraphQLClient, person: Person) -> str:
    result = await on_a(
        "{ viewer { calendarConnections { edges { node { id } } } } }", token=person.token
    )
    edges = result["data"]["viewer"]["calendarConnections"]["edges"]
    return str(edges[0]["node"]["id"])


def sync_event(connection_id: str, status: str, state: str, events: int = 0) -> dict[str, Any]:
    return {
        "syncStatus": {
            "__typename": "SyncStatus",
            "status": status,
            "syncState": state,
            "lastError": None,
            "eventsSynced": events,
            "connection": {"id": connection_id, "status": status},
        }
    }


async def test_availability_of_an_unknown_page_or_a_too_long_window_is_a_typed_error(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    _, b = processes
    _, slug = await host_with_page(on_a, factory)
    monday = next_monday()
    too_long = {
        **window(monday),
        "end": dt.datetime.combine(monday + dt.timedelta(days=63), dt.time(), dt.UTC).isoformat(),
    }
    async with websocket(b) as session:
        answers = [
            [
                event["availabilityChanged"]
                async for event in session.subscribe(
                    GraphQLRequest(AVAILABILITY, variable_values=v)
                )
            ]
            for v in ({"slug": "nobody/nothing", **window(monday)}, {"slug": slug, **too_long})
        ]
    assert [[(e["__typename"], e["field"]) for e in answer] for answer in answers] == [
        [("NotFound", "pageSlug")],
        [("ValidationError", "end")],
    ]


SLOTS = """
query($slug: String!, $start: DateTime!, $end: DateTime!) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: "UTC") {
    __typename ... on AvailableSlots { days { slots { start } } }
  }
}
"""
PAGES = "query { viewer { schedulingPages(first: 5) { edges { node { id } } } } }"
EDIT_HOURS = """
mutation($id: ID!) { updateSchedulingPage(input: {id: $id,
  weeklyHours: [{weekday: MONDAY, start: "10:00", end: "11:00"}]}) { __typename } }
"""


async def slot_starts(client: GraphQLClient, slug: str, monday: dt.date) -> list[str]:
    window_ = window(monday)
    answer = await client(SLOTS, {"slug": slug, "start": window_["start"], "end": window_["end"]})
    days = answer["data"]["availableSlots"]["days"]
    return [
        dt.datetime.fromisoformat(s["start"]).strftime("%H:%M") for d in days for s in d["slots"]
    ]


async def until_starts(
    client: GraphQLClient, slug: str, monday: dt.date, want: tuple[str, ...]
) -> None:
    """`want` within a bound far below the answers' listing age (30 s, C49), so only a change
    notice can have dropped the shared answer that listed more."""
    async with asyncio.timeout(10):
        while (await slot_starts(client, slug, monday)) != list(want):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)


async def test_a_change_through_a_drops_the_answer_b_shares_between_requests(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    """Issue 15: each process shares a page's slot answer across requests; a booking or a
    page edit through A is a change notice, after which B never answers from the old one."""
    _, b = processes
    ada, slug = await host_with_page(on_a, factory)
    monday = next_monday()
    async with httpx.AsyncClient(base_url=b.base, timeout=GUARD) as http:
        on_b = GraphQLClient(http)
        for _ in range(3):  # the first computes, the others are served the shared answer
            assert await slot_starts(on_b, slug, monday) == list(ALL_DAY)

        booked = await on_a(BOOK, booking_at_10_15(slug, monday))
        assert booked == {"data": {"bookMeeting": {"__typename": "BookMeetingSuccess"}}}
        await until_starts(on_b, slug, monday, ("10:45", "11:00"))

        pages = await on_a(PAGES, token=ada.token)
        (edge,) = pages["data"]["viewer"]["schedulingPages"]["edges"]
        edited = await on_a(EDIT_HOURS, {"id": edge["node"]["id"]}, token=ada.token)
        assert edited["data"]["updateSchedulingPage"]["__typename"] == "UpdateSchedulingPageSuccess"
        await until_starts(on_b, slug, monday, ())  # 10:00-11:00 holds no free half hour now


STARTS_ONLY = gql(
    """
    subscription Starts($slug: String!, $start: DateTime!, $end: DateTime!, $zone: String!) {
      availabilityChanged(pageSlug: $slug, start: $start, end: $end, timeZone: $zone) {
        __typename ... on AvailabilityChange { snapshot timeZone days { date starts } }
      }
    }
    """
)


def at(monday: dt.date, hh_mm: str) -> str:
    return dt.datetime.combine(monday, dt.time.fromisoformat(hh_mm), dt.UTC).isoformat()


def booking(slug: str, monday: dt.date, hh_mm: str, email: str) -> dict[str, Any]:
    return {
        "input": {
            "pageSlug": slug,
            "start": at(monday, hh_mm),
            "timeZone": "UTC",
            "contact": {"name": "Cleo", "email": email},
        }
    }


async def test_a_late_joiner_gets_its_own_snapshot_then_the_next_change_with_the_others(
    processes: tuple[Served, Served], on_a: GraphQLClient, factory: Factory
) -> None:
    """Issue 15 (C49), grouped fan-out: a subscriber arriving on B after a change has been
    delivered there joins the running group with a snapshot of the state as it is now, and
    then receives the next change exactly as the earlier subscriber does. One whose
    selection or time zone differs gets its own correct frames."""
    _, b = processes
    _, slug = await host_with_page(on_a, factory)
    monday = next_monday()
    same = {"slug": slug, **window(monday)}
    async with (
        subscription(b, AVAILABILITY, same) as early,
        subscription(b, STARTS_ONLY, same) as other_selection,
    ):
        assert await next_event(early) == change(monday, *ALL_DAY, snapshot=True)
        assert (await next_event(other_selection))["availabilityChanged"]["snapshot"] is True
        booked = await on_a(BOOK, booking(slug, monday, "10:15", "cleo@example.test"))
        assert booked == {"data": {"bookMeeting": {"__typename": "BookMeetingSuccess"}}}
        assert await next_event(early) == change(monday, "10:45", "11:00")
        assert await next_event(other_selection) == {
            "availabilityChanged": {
                "__typename": "AvailabilityChange",
                "snapshot": False,
                "timeZone": "UTC",
                "days": [
                    {
                        "date": monday.isoformat(),
                        "starts": [at(monday, "10:45"), at(monday, "11:00")],
                    }
                ],
            }
        }
        async with (
            subscription(b, AVAILABILITY, same) as late,
            subscription(b, AVAILABILITY, {**same, "zone": "Asia/Tokyo"}) as other_zone,
        ):
            assert await next_event(late) == change(monday, "10:45", "11:00", snapshot=True)
            in_tokyo = (await next_event(other_zone))["availabilityChanged"]
            assert (in_tokyo["snapshot"], in_tokyo["timeZone"]) == (True, "Asia/Tokyo")
            tokyo_starts = [s["start"] for d in in_tokyo["days"] for s in d["slots"]]
            assert tokyo_starts == [  # the same instants, written in its zone
                f"{monday.isoformat()}T19:45:00+09:00",
                f"{monday.isoformat()}T20:00:00+09:00",
            ]

            # 10:45-11:15 takes both slots left: the day empties, for everyone alike.
            booked = await on_a(BOOK, booking(slug, monday, "10:45", "dora@example.test"))
            assert booked == {"data": {"bookMeeting": {"__typename": "BookMeetingSuccess"}}}
            emptied = change(monday)
            assert await next_event(early) == emptied
            assert await next_event(late) == emptied
            assert (await next_event(other_zone))["availabilityChanged"]["days"] == [
                {"date": monday.isoformat(), "slots": []}
            ]
            assert (await next_event(other_selection))["availabilityChanged"]["days"] == [
                {"date": monday.isoformat(), "starts": []}
            ]
