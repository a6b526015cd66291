"""The busy cache behind availableSlots and bookMeeting (C16, S13), over HTTP against the
EWS fake through the real Exchange adapter.

The app here runs on a clock the tests move: the scenario week lies in March 2030, and
moving the clock is how a cached read grows old (listing window 30 s, freshness 300 s).

Live reads a person waits on are bounded tightly: the INTERACTIVE retry policy and a
short request timeout, so a throttling, failing or slow provider answers from the cache or
AvailabilityUnknown after a couple of quick tries, proved by counting the fake's requests;
background delivery keeps the patient default policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.applications import Starlette

from slotgraph.jobs.deliveries import build_outbox
from slotgraph.jobs.outbox import DeliveryPolicy
from slotgraph.jobs.outbox import Outcome
from slotgraph.models import Booking
from slotgraph.models import BusyCacheInterval
from slotgraph.models import BusyCacheWindow
from slotgraph.models import OutboxMessage
from slotgraph.models.outbox import OutboxKind
from slotgraph.models.outbox import OutboxState
from slotgraph.providers.retry import INTERACTIVE
from slotgraph.providers.retry import RetryPolicy
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import EXPECTED_BUSY
from tests.fakes.scenario import ScriptedEvent
from tests.fakes.scenario import merged
from tests.fakes.scenario import utc
from tests.helpers.accounts import Factory
from tests.helpers.clock import Clock
from tests.helpers.graphql import GraphQLClient
from tests.helpers.graphql import graphql_over
from tests.helpers.pages import make_page

SLOTS = """
query Slots($slug: String!, $start: DateTime!, $end: DateTime!) {
  availableSlots(pageSlug: $slug, start: $start, end: $end, timeZone: "America/New_York") {
    __typename
    ... on AvailableSlots { offline days { date slots { start } } }
    ... on AvailabilityUnknown { message code retryable }
    ... on PageUnavailable { reason }
  }
}
"""
BOOK = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) {
    __typename
    ... on BookMeetingSuccess { offline booking { start status } }
    ... on AvailabilityUnknown { message code retryable }
    ... on PageUnavailable { reason }
    ... on Error { message }
  }
}
"""
CONNECT = """
mutation($i: ConnectExchangeCalendarInput!) { connectExchangeCalendar(input: $i) { __typename } }
"""
WEEK = {"start": utc(4, 0).isoformat(), "end": utc(9, 0).isoformat()}
FREE_SLOT = utc(5, 15, 30)  # free in the scenario: it ends as the 1:1 at 16:00Z begins
UNKNOWN = {
    "__typename": "AvailabilityUnknown",
    "message": "The host's calendar did not answer and no recent copy of it is kept, so no "
    "time can be offered safely; try again in a minute.",
    "code": "AVAILABILITY_UNKNOWN",
    "retryable": True,
}


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC))


@pytest.fixture
async def clocked_app(
    settings: Settings, database_url: str, engine: AsyncEngine, clock: Clock
) -> AsyncIterator[Starlette]:
    tuned = settings.model_copy(
        update={
            "db_pool_size": 2,
            "busy_cache_freshness_seconds": 300.0,
            "busy_cache_listing_seconds": 30.0,
            # A slow provider is given up on quickly (tests/graph/test_interactive_retries.py).
            "provider_interactive_timeout_seconds": 0.5,
        }
    )
    app = create_app(tuned, database_url, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(clocked_app: Starlette) -> AsyncIterator[GraphQLClient]:
    async with graphql_over(clocked_app) as client:
        yield client


@pytest.fixture
async def slug(api: GraphQLClient, factory: Factory, exchange: FakeExchange) -> str:
    """The page of a host whose Exchange mailbox is connected, in New York hours."""
    ada = await factory.person(url_prefix="ada")
    connected = await api(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    assert connected["data"]["connectExchangeCalendar"]["__typename"] == (
        "ConnectExchangeCalendarSuccess"
    )
    return await make_page(api, ada, timeZone="America/New_York", bookingWindowDays=30)


async def slots(api: GraphQLClient, slug: str) -> dict[str, Any]:
    result = await api(SLOTS, {"slug": slug, **WEEK})
    assert "errors" not in result, result
    answer: dict[str, Any] = result["data"]["availableSlots"]
    return answer


def starts(answer: dict[str, Any]) -> set[str]:
    """The slot starts as UTC ISO strings (C31 writes them in the asked zone)."""
    return {
        dt.datetime.fromisoformat(slot["start"]).astimezone(dt.UTC).isoformat()
        for day in answer["days"]
        for slot in day["slots"]
    }


async def book(api: GraphQLClient, slug: str, start: dt.datetime) -> dict[str, Any]:
    result = await api(
        BOOK,
        {
            "input": {
                "pageSlug": slug,
                "start": start.isoformat(),
                "timeZone": "America/New_York",
                "contact": {"name": "Cleo", "email": "cleo@example.test"},
            }
        },
    )
    assert "errors" not in result, result
    answer: dict[str, Any] = result["data"]["bookMeeting"]
    return answer


def availability_reads(exchange: FakeExchange) -> int:
    return len(exchange.operations("GetUserAvailability", status=None))


def throttle(exchange: FakeExchange) -> None:
    """Every free/busy request throttled with a back-off longer than the adapter waits: a
    429-like transient failure, answered at once (no retry wait)."""
    exchange.fail("busy", operation="GetUserAvailability", times=None, back_off_ms=60_000)


async def test_slot_listing_is_served_from_a_read_younger_than_the_listing_window(
    api: GraphQLClient, slug: str, exchange: FakeExchange, clock: Clock
) -> None:
    first = await slots(api, slug)
    assert first["__typename"] == "AvailableSlots"
    assert first["offline"] is False
    assert FREE_SLOT.isoformat() in starts(first)
    assert availability_reads(exchange) == 1

    clock.advance(20)
    assert await slots(api, slug) == first
    assert availability_reads(exchange) == 1  # no provider call within 30 s

    clock.advance(20)
    assert await slots(api, slug) == first
    assert availability_reads(exchange) == 2  # older than 30 s: read live again


async def test_transient_failure_within_freshness_answers_slots_and_booking_from_cache(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await slots(api, slug)
    throttle(exchange)
    clock.advance(120)  # past the listing window, within freshness

    assert await slots(api, slug) == first
    booked = await book(api, slug, FREE_SLOT)
    assert booked == {
        "__typename": "BookMeetingSuccess",
        "offline": False,
        "booking": {"start": FREE_SLOT.isoformat(), "status": "CONFIRMED"},
    }
    refused = [r.status for r in exchange.operations("GetUserAvailability", status=None)]
    assert refused == [200, 500, 500]  # both live reads were tried, and failed
    async with sessionmaker() as session:
        outbox = (await session.execute(select(OutboxMessage.kind))).scalars().all()
    # The calendar write, and the contact's confirmation email (C21).
    assert sorted(outbox) == sorted([OutboxKind.CALENDAR_CREATE, OutboxKind.BOOKING_EMAIL])


async def test_5xx_past_freshness_is_availability_unknown_and_retryable(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await slots(api, slug))["__typename"] == "AvailableSlots"
    exchange.fail("http503", operation="GetUserAvailability", times=None)
    clock.advance(301)

    assert await slots(api, slug) == UNKNOWN
    assert await book(api, slug, FREE_SLOT) == UNKNOWN
    async with sessionmaker() as session:
        assert (await session.execute(select(Booking))).scalars().all() == []

    exchange.clear_faults()  # the provider is back: so are the slots
    assert (await slots(api, slug))["__typename"] == "AvailableSlots"


async def test_no_cached_read_at_all_is_availability_unknown(
    api: GraphQLClient, slug: str, exchange: FakeExchange
) -> None:
    throttle(exchange)
    assert await slots(api, slug) == UNKNOWN


async def test_revoked_access_is_never_served_from_the_cache(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await slots(api, slug))["__typename"] == "AvailableSlots"
    exchange.password = "changed at the server"  # the stored password no longer works
    clock.advance(5)  # the cached read is as fresh as can be

    assert await book(api, slug, FREE_SLOT) == {
        "__typename": "PageUnavailable",
        "reason": "HOST_ACCESS_LOST",
        "message": "This host cannot take bookings right now: access to one of their "
        "calendars was lost. They have been told; please try again later.",
    }
    clock.advance(40)
    assert await slots(api, slug) == {"__typename": "PageUnavailable", "reason": "HOST_ACCESS_LOST"}
    async with sessionmaker() as session:
        assert (await session.execute(select(Booking))).scalars().all() == []
        outbox = (await session.execute(select(OutboxMessage.kind))).scalars().all()
    assert outbox == [OutboxKind.EMAIL]  # the host is told someone tried (S13, C13)


async def test_a_successful_read_refreshes_the_cache(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert FREE_SLOT.isoformat() in starts(await slots(api, slug))
    exchange.add_event(ScriptedEvent("late", "Booked elsewhere", FREE_SLOT, utc(5, 16)))
    clock.advance(60)
    refreshed_at = clock.now

    refreshed = await slots(api, slug)  # read live: the new event hides its slot
    assert FREE_SLOT.isoformat() not in starts(refreshed)
    async with sessionmaker() as session:
        windows = (await session.execute(select(BusyCacheWindow))).scalars().all()
    assert [(w.window_start, w.window_end, w.read_at) for w in windows] == [
        (utc(3, 0), utc(10, 0), refreshed_at)  # the asked week plus a day each side
    ]

    throttle(exchange)
    clock.advance(200)  # 260 s after the first read, 200 s after the refresh
    assert await slots(api, slug) == refreshed
    assert (await book(api, slug, FREE_SLOT))["__typename"] == "SlotUnavailable"


async def test_a_booking_read_inside_a_listed_window_replaces_only_its_own_span(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    listed_at = clock.now
    await slots(api, slug)  # caches [03-03, 03-10)
    clock.advance(10)
    assert (await book(api, slug, FREE_SLOT))["__typename"] == "BookMeetingSuccess"

    day = dt.timedelta(days=1)
    booking_read = (FREE_SLOT - day, FREE_SLOT + dt.timedelta(minutes=1) + day)
    async with sessionmaker() as session:
        windows = (
            await session.execute(select(BusyCacheWindow).order_by(BusyCacheWindow.window_start))
        ).scalars()
        spans = (
            await session.execute(select(BusyCacheInterval.starts_at, BusyCacheInterval.ends_at))
        ).all()
    assert [(w.window_start, w.window_end, w.read_at) for w in windows] == [
        (utc(3, 0), booking_read[0], listed_at),
        (*booking_read, clock.now),
        (booking_read[1], utc(10, 0), listed_at),
    ]
    # Split at the windows' edges, the cached spans still make the scenario's busy time.
    assert merged([(a, b) for a, b in spans]) == [
        span for span in EXPECTED_BUSY if span[1] <= utc(10, 0)
    ]


async def test_reads_too_old_to_answer_are_dropped_when_their_calendar_is_written(
    api: GraphQLClient,
    slug: str,
    clock: Clock,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await slots(api, slug)  # caches [03-03, 03-10)
    clock.advance(400)  # older than both windows: it can never answer again
    assert (await book(api, slug, FREE_SLOT))["__typename"] == "BookMeetingSuccess"

    day = dt.timedelta(days=1)
    booking_read = (FREE_SLOT - day, FREE_SLOT + dt.timedelta(minutes=1) + day)
    async with sessionmaker() as session:
        windows = (await session.execute(select(BusyCacheWindow))).scalars().all()
        spans = (
            await session.execute(select(BusyCacheInterval.starts_at, BusyCacheInterval.ends_at))
        ).all()
    assert [(w.window_start, w.window_end, w.read_at) for w in windows] == [
        (*booking_read, clock.now)
    ]
    assert spans
    assert all(booking_read[0] <= a and b <= booking_read[1] for a, b in spans)


CALENDARS = """
query { viewer { calendarConnections { edges { node { remoteCalendars { id name } } } } } }
"""
CALENDARS_WITH_STATUS = """
query { viewer { calendarConnections { edges { node {
  remoteCalendars { name status }
} } } } }
"""
SELECT = """
mutation($ids: [ID!]!) { setAvailabilityCalendars(input: {calendarIds: $ids}) { __typename } }
"""
OFFSITE = "AAMkFolder-team-offsite"  # the fake mailbox's sub-calendar


async def test_a_calendar_gone_at_the_provider_is_never_served_from_the_cache(
    api: GraphQLClient, factory: Factory, exchange: FakeExchange, clock: Clock
) -> None:
    ada = await factory.person(url_prefix="ada")
    await api(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    listed = await api(CALENDARS, token=ada.token)
    (connection,) = listed["data"]["viewer"]["calendarConnections"]["edges"]
    offsite = next(
        c["id"] for c in connection["node"]["remoteCalendars"] if c["name"] == "Team offsite"
    )
    selected = await api(SELECT, {"ids": [offsite]}, token=ada.token)
    assert selected["data"]["setAvailabilityCalendars"]["__typename"] == (
        "SetAvailabilityCalendarsSuccess"
    )
    slug = await make_page(api, ada, timeZone="America/New_York", bookingWindowDays=30)
    assert (await slots(api, slug))["__typename"] == "AvailableSlots"  # both calendars cached
    exchange.remove_calendar(OFFSITE)
    clock.advance(5)

    assert (await book(api, slug, FREE_SLOT))["reason"] == "HOST_ACCESS_LOST"
    clock.advance(40)
    assert await slots(api, slug) == {"__typename": "PageUnavailable", "reason": "HOST_ACCESS_LOST"}

    # C2: the calendar itself is marked, and removing it (the "X") is the user's fix.
    statuses = {
        c["name"]: c["status"]
        for c in (await api(CALENDARS_WITH_STATUS, token=ada.token))["data"]["viewer"][
            "calendarConnections"
        ]["edges"][0]["node"]["remoteCalendars"]
    }
    assert statuses["Team offsite"] == "ACCESS_LOST"
    assert set(statuses.values()) == {"CONNECTED", "ACCESS_LOST"}
    removed = await api(SELECT, {"ids": []}, token=ada.token)
    assert removed["data"]["setAvailabilityCalendars"]["__typename"] == (
        "SetAvailabilityCalendarsSuccess"
    )
    assert (await slots(api, slug))["__typename"] == "AvailableSlots"


# Longer than INTERACTIVE waits for, shorter than the default policy does: a request that
# honoured it would retry after 10 s; an interactive one gives up and falls back at once.
BACK_OFF_MS = 10_000
SLOW_SECONDS = 3.0  # the fake's slow answers; the interactive request timeout is far shorter


def availability_statuses(exchange: FakeExchange) -> list[int]:
    return [r.status for r in exchange.operations("GetUserAvailability", status=None)]


async def test_a_throttling_provider_is_asked_once_and_listing_and_booking_use_the_cache(
    api: GraphQLClient, slug: str, exchange: FakeExchange, clock: Clock
) -> None:
    first = await slots(api, slug)
    assert first["__typename"] == "AvailableSlots"
    exchange.fail("busy", operation="GetUserAvailability", times=None, back_off_ms=BACK_OFF_MS)
    clock.advance(120)  # past the listing window, within freshness

    assert await slots(api, slug) == first
    assert (await book(api, slug, FREE_SLOT))["__typename"] == "BookMeetingSuccess"
    # One try each: the 10 s back-off is not waited for while a person waits.
    assert availability_statuses(exchange) == [200, 500, 500]


async def test_a_failing_provider_is_tried_only_interactive_attempts_times(
    api: GraphQLClient, slug: str, exchange: FakeExchange
) -> None:
    exchange.fail("http503", operation="GetUserAvailability", times=None)

    assert await slots(api, slug) == UNKNOWN
    assert availability_statuses(exchange) == [503] * INTERACTIVE.attempts
    assert INTERACTIVE.attempts < RetryPolicy().attempts


async def test_a_slow_provider_is_abandoned_after_the_interactive_timeout(
    api: GraphQLClient, slug: str, exchange: FakeExchange
) -> None:
    exchange.fail("slow", operation="GetUserAvailability", times=None, delay=SLOW_SECONDS)

    assert await slots(api, slug) == UNKNOWN
    # Each try timed out (0.5 s) long before the fake answered (3 s): two tries, no more.
    assert len(exchange.operations("GetUserAvailability", status=None)) == INTERACTIVE.attempts
    exchange.clear_faults()


async def test_background_delivery_keeps_retrying_with_the_patient_policy(
    api: GraphQLClient,
    slug: str,
    exchange: FakeExchange,
    clocked_app: Starlette,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await book(api, slug, FREE_SLOT))["__typename"] == "BookMeetingSuccess"
    async with sessionmaker() as session:
        (message,) = (
            (
                await session.execute(
                    select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.CALENDAR_CREATE)
                )
            )
            .scalars()
            .all()
        )
    # More failures in a row than an interactive call would sit through.
    exchange.fail("http503", operation="CreateItem", times=INTERACTIVE.attempts)
    services = clocked_app.state.runtime.services
    outbox = build_outbox(
        services.sessionmaker,
        services.connection_clients,  # what the worker builds (server/worker.py)
        mailer=None,
        policy=DeliveryPolicy(max_attempts=5, initial_backoff=1.0, lease=60.0),
    )

    assert await outbox.deliver(message.id) == Outcome(OutboxState.DONE)
    statuses = [r.status for r in exchange.operations("CreateItem", status=None)]
    assert statuses == [503] * INTERACTIVE.attempts + [200]  # all within one delivery


BOOK_FOR_TOKEN = """
mutation Book($input: BookMeetingInput!) {
  bookMeeting(input: $input) { __typename ... on BookMeetingSuccess { manageToken } }
}
"""
RESCHEDULE_AS_CONTACT = """
mutation Move($input: RescheduleBookingAsContactInput!) {
  rescheduleBookingAsContact(input: $input) {
    __typename ... on BookingNotChangeable { reason }
  }
}
"""


async def test_a_reschedule_is_judged_by_the_same_clock_as_the_slots_offered(
    api: GraphQLClient, slug: str, clock: Clock
) -> None:
    # One "now" per process (C17): the booking's start passes on the app's clock, long
    # before it passes on the wall clock, and moving it is refused as started.
    contact = {"name": "Cleo", "email": "cleo@example.test"}
    fields = {"pageSlug": slug, "start": FREE_SLOT.isoformat(), "timeZone": "America/New_York"}
    booked = await api(BOOK_FOR_TOKEN, {"input": {**fields, "contact": contact}})
    token = booked["data"]["bookMeeting"]["manageToken"]
    clock.now = FREE_SLOT + dt.timedelta(hours=1)
    later = FREE_SLOT + dt.timedelta(days=2)
    moved = await api(
        RESCHEDULE_AS_CONTACT, {"input": {"manageToken": token, "start": later.isoformat()}}
    )
    assert moved == {
        "data": {
            "rescheduleBookingAsContact": {
                "__typename": "BookingNotChangeable",
                "reason": "STARTED",
            }
        }
    }
