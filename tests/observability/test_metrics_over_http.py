"""`/metrics` over real HTTP (uvicorn on loopback, in this process) while the app works
against the EWS fake through the real Exchange adapter: the counters move after a sync, a
booking and a provider failure; requests are labelled by root field, never by the client's
operation name (C48); the socket gauges follow an open websocket and its subscription."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.fakes.exchange import PASSWORD
from tests.fakes.exchange import FakeExchange
from tests.fakes.scenario import utc
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.clock import Clock
from tests.helpers.graphql import GraphQLClient
from tests.helpers.live import serve_in_thread
from tests.helpers.metrics import Samples
from tests.helpers.metrics import scrape
from tests.helpers.metrics import scraped_until
from tests.helpers.pages import make_page
from tests.helpers.sockets import subscribed

TOKEN = "metrics-token-for-tests"
CONNECT = """
mutation Connect($i: ConnectExchangeCalendarInput!) { connectExchangeCalendar(input: $i) {
  ... on ConnectExchangeCalendarSuccess { connection { id } } } }
"""
BOOK = """
mutation ClientChosenName($input: BookMeetingInput!) {
  made: bookMeeting(input: $input) { __typename }
}
"""
FREE_SLOTS = (utc(5, 15, 30), utc(5, 16, 30))  # free in the scenario week


@pytest.fixture
def clock() -> Clock:
    """The scenario week lies in March 2030 (C17)."""
    return Clock(dt.datetime(2030, 3, 1, 12, tzinfo=dt.UTC))


@pytest.fixture
def base(settings: Settings, database_url: str, engine: AsyncEngine, clock: Clock) -> Iterator[str]:
    """The app with its background workers (sync, outbox), served on a loopback port."""
    tuned = settings.model_copy(
        update={
            "metrics_token": SecretStr(TOKEN),
            "sync_poll_seconds": 0.2,
            "db_pool_size": 3,
            "provider_interactive_timeout_seconds": 0.5,
        }
    )
    with serve_in_thread(create_app(tuned, database_url, worker=True, clock=clock)) as url:
        yield url


@pytest.fixture
async def http(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False) as client:
        yield client


async def connected_page(
    gql: GraphQLClient, factory: Factory, exchange: FakeExchange
) -> tuple[Person, str, str]:
    """Ada, with her Exchange mailbox connected and a page in New York hours: (Ada, her
    connection's id, the page's slug)."""
    ada = await factory.person(url_prefix="ada")
    answer = await gql(
        CONNECT,
        {"i": {"email": exchange.email, "password": PASSWORD, "ewsUrl": exchange.url}},
        token=ada.token,
    )
    connection_id = answer["data"]["connectExchangeCalendar"]["connection"]["id"]
    slug = await make_page(gql, ada, timeZone="America/New_York", bookingWindowDays=30)
    return ada, connection_id, slug


async def book(gql: GraphQLClient, slug: str, start: dt.datetime) -> str:
    contact = {"name": "Cleo", "email": "cleo@example.test"}
    variables = {
        "input": {
            "pageSlug": slug,
            "start": start.isoformat(),
            "timeZone": "America/New_York",
            "contact": contact,
        }
    }
    result = await gql(BOOK, variables)
    return str(result["data"]["made"]["__typename"])


async def test_counters_move_after_a_sync_a_booking_and_a_provider_failure(
    http: httpx.AsyncClient, factory: Factory, exchange: FakeExchange, clock: Clock
) -> None:
    gql = GraphQLClient(http)

    async def take() -> Samples:
        return await scrape(http, "/metrics", TOKEN)

    def exchange_calls(samples: Samples, operation: str, outcome: str = "ok") -> float:
        return samples(
            "slotgraph_provider_calls_total",
            provider="EXCHANGE",
            operation=operation,
            outcome=outcome,
        )

    # Given a connected mailbox: the worker syncs it at once.
    _, _, slug = await connected_page(gql, factory, exchange)
    synced = await scraped_until(take, lambda s: exchange_calls(s, "list_changes") >= 1)
    assert exchange_calls(synced, "connect") == 1
    assert exchange_calls(synced, "list_changes") >= 1
    assert synced("slotgraph_sync_connections", provider="EXCHANGE") == 1
    assert synced("slotgraph_sync_lag_seconds", provider="EXCHANGE") >= 0
    assert synced("slotgraph_metrics_database_up") == 1

    # When a contact books: the mutation counts by root field, and the event is written.
    assert await book(gql, slug, FREE_SLOTS[0]) == "BookMeetingSuccess"
    booked = await scraped_until(
        take,
        lambda s: exchange_calls(s, "create_event") >= 1 and s("slotgraph_outbox_pending") == 0,
    )
    mutation = {"operation": "mutation", "field": "bookMeeting"}
    assert booked("slotgraph_graphql_requests_total", **mutation, result="success") == 1
    assert booked("slotgraph_graphql_request_seconds_count", **mutation) == 1
    assert exchange_calls(booked, "free_busy") >= 1
    assert exchange_calls(booked, "create_event") == 1
    assert booked("slotgraph_outbox_pending") == 0

    # When Exchange fails past the busy cache's freshness: the typed answer, and the failed
    # provider calls, by the error they raised.
    exchange.fail("http503", operation="GetUserAvailability", times=None)
    clock.advance(301)
    assert await book(gql, slug, FREE_SLOTS[1]) == "AvailabilityUnknown"
    failed = await take()
    assert failed("slotgraph_graphql_requests_total", **mutation, result="AvailabilityUnknown") == 1
    assert failed("slotgraph_graphql_request_seconds_count", **mutation) == 2
    failures = {
        dict(labels)["outcome"]
        for (name, labels), value in failed.values.items()
        if name == "slotgraph_provider_calls_total"
        and dict(labels)["operation"] == "free_busy"
        and dict(labels)["outcome"] != "ok"
        and value > 0
    }
    assert failures == {"TransientError"}

    # Labels are the schema's names only: not the operation's name nor the alias (C48).
    assert {"ClientChosenName", "made", "Connect"}.isdisjoint(failed.label_values())


async def test_invalid_operations_and_typed_errors_outside_a_union_are_told_apart(
    http: httpx.AsyncClient, factory: Factory
) -> None:
    gql = GraphQLClient(http)
    ada = await factory.person()
    await http.post("/graphql", json={"query": "{ notAField }"})
    await http.post("/graphql", json={"query": "{ viewer { "})
    await gql('{ node(id: "Qm9va2luZzo5OTk=") { id } }', token=ada.token)
    await gql("{ viewer { name } }", token=ada.token)

    samples = await scrape(http, "/metrics", TOKEN)
    requests = "slotgraph_graphql_requests_total"
    assert samples(requests, operation="query", field="", result="invalid") == 1
    assert samples(requests, operation="unknown", field="", result="invalid") == 1
    assert samples(requests, operation="query", field="viewer", result="success") == 1
    assert samples(requests, operation="query", field="node", result="success") == 1
    assert "notAField" not in samples.label_values()


async def test_socket_gauges_follow_an_open_websocket_and_its_subscription(
    base: str, http: httpx.AsyncClient, factory: Factory, exchange: FakeExchange
) -> None:
    gql = GraphQLClient(http)
    ada, connection_id, _ = await connected_page(gql, factory, exchange)

    async def gauges() -> tuple[float, float]:
        samples = await scrape(http, "/metrics", TOKEN)
        return samples("slotgraph_websockets_open"), samples("slotgraph_subscriptions_open")

    assert await gauges() == (0, 0)
    async with subscribed(base, ada.token, connection_id):
        assert await gauges() == (1, 1)
        samples = await scrape(http, "/metrics", TOKEN)
        started = {"operation": "subscription", "field": "syncStatus", "result": "success"}
        assert samples("slotgraph_graphql_requests_total", **started) == 1
    ended = await scraped_until(
        lambda: scrape(http, "/metrics", TOKEN),
        lambda s: s("slotgraph_websockets_open") == 0,
        seconds=5,
    )
    assert (ended("slotgraph_websockets_open"), ended("slotgraph_subscriptions_open")) == (0, 0)


async def test_metrics_need_the_token_when_one_is_set(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 401
    wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).is_success
