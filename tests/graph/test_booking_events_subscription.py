"""`bookingEvents` over a real websocket (uvicorn on loopback, the `gql` client speaking
graphql-transport-ws): the viewer's own bookings' events arrive as they happen, with the
booking as the API shows it; another host's never do (C9, C21); anonymous sessions are
refused (C10) and a revoked token ends the stream (C23). The changes are made through the
test's own app, so their notices cross between two apps by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gql import Client
from gql import GraphQLRequest
from gql import gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from slotgraph.notices.pubsub import LocalFanout
from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.accounts import Person
from tests.helpers.bookings import book_with_token
from tests.helpers.bookings import page_and_nine
from tests.helpers.bookings import run
from tests.helpers.graphql import GraphQLClient
from tests.helpers.jobs import eventually
from tests.helpers.live import serve_in_thread
from tests.helpers.pages import make_page

GUARD = 15  # seconds; a guard against hanging, never a measurement
EVENTS = gql(
    """
    subscription {
      bookingEvents {
        __typename
        ... on BookingEvent { kind actor reason occurredAt booking { id status declinedBy } }
        ... on Error { code }
      }
    }
    """
)
CONFIRM = """
mutation($input: ConfirmBookingInput!) { confirmBooking(input: $input) { __typename } }
"""
DECLINE = """
mutation($input: DeclineBookingInput!) { declineBooking(input: $input) { __typename } }
"""
CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  ... on CreateApiTokenSuccess { secret apiToken { id } } } }
"""
REVOKE = "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { __typename } }"


@pytest.fixture(scope="module")
def live(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> Iterator[tuple[str, Starlette]]:
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url)
    with serve_in_thread(app) as base:
        yield base.replace("http://", "ws://") + "/graphql", app


def _subscribers(app: Starlette) -> int:
    pubsub: LocalFanout = app.state.runtime.services.pubsub
    return pubsub.subscriber_count


@asynccontextmanager
async def events(
    live: tuple[str, Starlette], token: str | None
) -> AsyncIterator[AsyncGenerator[dict[str, Any], None]]:
    """A running bookingEvents stream, its subscription registered on the server (the token
    watch and the booking channel: two subscribers more) before the block starts."""
    url, app = live
    before = _subscribers(app)
    payload = {"authorization": f"Bearer {token}"} if token else {}
    transport = WebsocketsTransport(url=url, init_payload=payload, connect_timeout=5)
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        stream = session.subscribe(GraphQLRequest(EVENTS))
        first = asyncio.ensure_future(anext(stream))
        try:
            if token is not None:

                async def registered() -> bool:
                    return _subscribers(app) >= before + 2

                await eventually(registered, seconds=GUARD)

            async def rest() -> AsyncGenerator[dict[str, Any], None]:
                yield await asyncio.wait_for(first, GUARD)
                while True:
                    yield await asyncio.wait_for(anext(stream), GUARD)

            yield rest()
        finally:
            first.cancel()
            await stream.aclose()


async def _take(stream: AsyncGenerator[dict[str, Any], None], count: int) -> list[Any]:
    taken = []
    for _ in range(count):
        event = (await anext(stream))["bookingEvents"]
        taken.append((event["kind"], event["actor"], event["reason"], event["booking"]))
    return taken


async def _bob_with_page(gql_: GraphQLClient, factory: Factory) -> tuple[Person, str]:
    bob = await factory.person(url_prefix="bob", name="Bob")
    slug = await make_page(
        gql_, bob, weeklyHours=[{"weekday": "MONDAY", "start": "09:00", "end": "12:00"}]
    )
    return bob, slug


async def test_hosts_see_their_own_bookings_events_only(
    live: tuple[str, Starlette], gql: GraphQLClient, factory: Factory
) -> None:
    ada, ada_slug, nine = await page_and_nine(gql, factory)
    bob, bob_slug = await _bob_with_page(gql, factory)
    async with events(live, ada.token) as ada_events, events(live, bob.token) as bob_events:
        # Each event is taken before the next change, so its booking is as it was then.
        first = (await book_with_token(gql, ada_slug, nine))["booking"]["id"]
        assert await _take(ada_events, 1) == [
            ("REQUESTED", "CONTACT", None, {"id": first, "status": "REQUESTED", "declinedBy": None})
        ]
        theirs = (await book_with_token(gql, bob_slug, nine))["booking"]["id"]
        assert (await _take(bob_events, 1))[0][:2] == ("REQUESTED", "CONTACT")
        declined = await run(gql, DECLINE, bob.token, bookingId=theirs)
        assert declined["__typename"] == "DeclineBookingSuccess"
        assert await _take(bob_events, 1) == [
            ("DECLINED", "HOST", None, {"id": theirs, "status": "DECLINED", "declinedBy": "HOST"})
        ]
        confirmed = await run(gql, CONFIRM, ada.token, bookingId=first)
        assert confirmed["__typename"] == "ConfirmBookingSuccess"
        second = (await book_with_token(gql, ada_slug, nine.replace(hour=10)))["booking"]["id"]
        assert await _take(ada_events, 2) == [
            ("CONFIRMED", "HOST", None, {"id": first, "status": "CONFIRMED", "declinedBy": None}),
            (
                "REQUESTED",
                "CONTACT",
                None,
                {"id": second, "status": "REQUESTED", "declinedBy": None},
            ),
        ]
        declined = await run(gql, DECLINE, ada.token, bookingId=second, reason="Busy")
        assert declined["__typename"] == "DeclineBookingSuccess"

        # Bob's two events never reached Ada's stream: hers follow each other.
        assert await _take(ada_events, 1) == [
            ("DECLINED", "HOST", "Busy", {"id": second, "status": "DECLINED", "declinedBy": "HOST"})
        ]


async def test_anonymous_sessions_are_refused_and_a_revoked_token_ends_the_stream(
    live: tuple[str, Starlette], gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    async with events(live, None) as anonymous:
        assert await anext(anonymous) == {
            "bookingEvents": {"__typename": "PermissionDenied", "code": "PERMISSION_DENIED"}
        }
    created = await run(gql, CREATE_TOKEN, ada.token, name="dashboard", scopes=["read"])
    async with events(live, created["secret"]) as stream:
        await book_with_token(gql, slug, nine)
        [(kind, _, _, _)] = await _take(stream, 1)
        assert kind == "REQUESTED"
        revoked = await gql(REVOKE, {"id": created["apiToken"]["id"]}, token=ada.token)
        assert revoked["data"]["revokeApiToken"]["__typename"] == "RevokeApiTokenSuccess"
        with pytest.raises(TransportQueryError):
            await anext(stream)


AVAILABILITY = gql(
    """
    subscription Slots($slug: String!, $start: DateTime!, $end: DateTime!) {
      availabilityChanged(pageSlug: $slug, start: $start, end: $end, timeZone: "UTC") {
        __typename
        ... on AvailabilityChange { snapshot days { date slots { start } } }
      }
    }
    """
)


async def test_a_declined_request_gives_its_time_back_to_live_availability(
    live: tuple[str, Starlette], gql: GraphQLClient, factory: Factory
) -> None:
    ada, slug, nine = await page_and_nine(gql, factory)
    booking_id = (await book_with_token(gql, slug, nine))["booking"]["id"]
    day = nine.replace(hour=0)
    variables = {"slug": slug, "start": day.isoformat(), "end": day.replace(hour=23).isoformat()}
    transport = WebsocketsTransport(url=live[0], connect_timeout=5)
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        stream = session.subscribe(GraphQLRequest(AVAILABILITY, variable_values=variables))
        try:
            snapshot = (await asyncio.wait_for(anext(stream), GUARD))["availabilityChanged"]
            [shown] = snapshot["days"]
            assert nine.isoformat() not in [slot["start"] for slot in shown["slots"]]

            declined = await run(gql, DECLINE, ada.token, bookingId=booking_id)
            assert declined["__typename"] == "DeclineBookingSuccess"

            change = (await asyncio.wait_for(anext(stream), GUARD))["availabilityChanged"]
            assert change["snapshot"] is False
            [freed] = change["days"]
            assert freed["slots"][0] == {"start": nine.isoformat()}
        finally:
            await stream.aclose()
