"""The limits on public operations against real `slotgraph serve` processes (C25, C33):
a burst of anonymous bookings from one address on `serve --workers 3` is cut off at the
documented limit, counted in PostgreSQL across the processes, while a second loopback
address books on (127.0.0.2 as the client's local address: Linux routes all of
127.0.0.0/8 to loopback); and, on one process, the caps on anonymous sockets per client
address and on operations per anonymous socket (raw graphql-transport-ws frames)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket as socket_module
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from slotgraph.models import Booking
from tests.helpers.accounts import Factory
from tests.helpers.limits import BOOK
from tests.helpers.limits import booking
from tests.helpers.pages import next_monday
from tests.helpers.serving import serve

LIMIT = 5  # SLOTGRAPH_PUBLIC_WRITES_PER_ADDRESS for the burst
BURST = 20
SOCKETS, OPERATIONS = 2, 2
GUARD = 10  # seconds; a guard against hanging, never a measurement
CREATE_PAGE = """
mutation($input: CreateSchedulingPageInput!) { createSchedulingPage(input: $input) {
  ... on CreateSchedulingPageSuccess { page { slug } } } }
"""
WATCH = """
subscription($slug: String!, $s: DateTime!, $e: DateTime!) {
  availabilityChanged(pageSlug: $slug, start: $s, end: $e, timeZone: "UTC") {
    __typename ... on AvailabilityChange { snapshot } } }
"""


@pytest.fixture(scope="module")
def three_workers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "SLOTGRAPH_PUBLIC_WRITES_PER_ADDRESS": str(LIMIT),
        "SLOTGRAPH_RUN_WORKER": "false",
    }
    with serve(database_url, tmp_path_factory.mktemp("limits"), workers=3, env=env) as base:
        yield base


@pytest.fixture(scope="module")
def one_worker(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "SLOTGRAPH_PUBLIC_SOCKETS_PER_ADDRESS": str(SOCKETS),
        "SLOTGRAPH_PUBLIC_SUBSCRIPTIONS_PER_SOCKET": str(OPERATIONS),
        "SLOTGRAPH_RUN_WORKER": "false",
    }
    with serve(database_url, tmp_path_factory.mktemp("sockets"), workers=1, env=env) as base:
        yield base


async def page_of(base: str, factory: Factory) -> str:
    """A page of a new host, open all Monday in 30-minute slots; its slug."""
    ada = await factory.person(url_prefix="ada", name="Ada")
    page = {
        "title": "Intro",
        "durations": [30],
        "bookingWindowDays": 365,
        "timeZone": "UTC",
        "weeklyHours": [{"weekday": "MONDAY", "start": "00:00", "end": "23:30"}],
    }
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as client:
        created = await client.post(
            "/graphql",
            json={"query": CREATE_PAGE, "variables": {"input": page}},
            headers={"Authorization": f"Bearer {ada.token}"},
        )
    return str(created.json()["data"]["createSchedulingPage"]["page"]["slug"])


def slot(n: int) -> dt.datetime:
    return dt.datetime.combine(next_monday(), dt.time(0), dt.UTC) + dt.timedelta(minutes=30 * n)


async def test_a_burst_from_one_address_is_cut_off_at_the_limit_across_processes(
    three_workers: str, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    slug = await page_of(three_workers, factory)
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    async with httpx.AsyncClient(base_url=three_workers, timeout=60, limits=limits) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": BOOK, "variables": booking(slug, slot(n), f"c{n}@ex.test")},
                )
                for n in range(BURST)
            )
        )
    outcomes = [answer.json()["data"]["bookMeeting"] for answer in answers]
    assert Counter(o["__typename"] for o in outcomes) == {
        "BookMeetingSuccess": LIMIT,
        "RateLimited": BURST - LIMIT,
    }
    assert {o["code"] for o in outcomes if o["__typename"] == "RateLimited"} == {"RATE_LIMITED"}
    assert all(
        0 < o["retryAfterSeconds"] <= 600 for o in outcomes if o["__typename"] == "RateLimited"
    )

    other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=three_workers, timeout=GUARD, transport=other) as client:
        elsewhere = await client.post(
            "/graphql",
            json={"query": BOOK, "variables": booking(slug, slot(BURST), "other@ex.test")},
        )
    assert elsewhere.json()["data"]["bookMeeting"]["__typename"] == "BookMeetingSuccess"
    async with sessionmaker() as session:
        made = (await session.execute(select(func.count()).select_from(Booking))).scalar_one()
    assert made == LIMIT + 1


async def receive(socket: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), GUARD))
        if message["type"] != "ping":
            return message
        await socket.send(json.dumps({"type": "pong"}))


async def anonymous(url: str, source: str = "127.0.0.1") -> ClientConnection:
    """An anonymous graphql-transport-ws session from the local address `source`."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    raw = socket_module.create_connection(("127.0.0.1", port), GUARD, (source, 0))
    socket = await connect(url, sock=raw, subprotocols=[Subprotocol("graphql-transport-ws")])
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    return socket


async def admitted_within_guard(url: str) -> ClientConnection:
    """A socket kept open (the server may take a moment to see an earlier one close)."""
    deadline = asyncio.get_running_loop().time() + GUARD
    while True:
        socket = await anonymous(url)
        assert await receive(socket) == {"type": "connection_ack", "payload": None}
        try:
            await asyncio.wait_for(socket.recv(), 0.5)
        except TimeoutError:
            return socket  # still open: admitted
        except ConnectionClosed:
            assert asyncio.get_running_loop().time() < deadline, "never admitted"
            continue
        return socket  # a keep-alive ping: open all the same


async def test_anonymous_sockets_are_capped_per_client_address(one_worker: str) -> None:
    url = one_worker.replace("http://", "ws://") + "/graphql"
    held = [await anonymous(url) for _ in range(SOCKETS)]
    try:
        for socket in held:
            assert await receive(socket) == {"type": "connection_ack", "payload": None}
        extra = await anonymous(url)
        assert await receive(extra) == {"type": "connection_ack", "payload": None}
        with pytest.raises(ConnectionClosed) as closed:
            await receive(extra)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1013,
            f"Too many open sockets from your address (at most {SOCKETS}); close one first.",
        )
        # Another address is not affected; a closed socket frees its place.
        elsewhere = await anonymous(url, "127.0.0.2")
        held.append(elsewhere)
        assert await receive(elsewhere) == {"type": "connection_ack", "payload": None}
        await held.pop(0).close()
        held.append(await admitted_within_guard(url))
    finally:
        for socket in held:
            await socket.close()


async def test_operations_per_anonymous_socket_are_capped(
    one_worker: str, factory: Factory
) -> None:
    slug = await page_of(one_worker, factory)
    start = slot(0)
    variables = {
        "slug": slug,
        "s": start.isoformat(),
        "e": (start + dt.timedelta(days=1)).isoformat(),
    }
    url = one_worker.replace("http://", "ws://") + "/graphql"
    socket = await anonymous(url)
    try:
        assert await receive(socket) == {"type": "connection_ack", "payload": None}
        for n in range(OPERATIONS + 1):
            payload = {"query": WATCH, "variables": variables}
            await socket.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
        messages = [await receive(socket) for _ in range(OPERATIONS + 1)]
        by_id = {m["id"]: m for m in messages}
        for n in range(OPERATIONS):
            assert by_id[str(n)]["type"] == "next"
        assert by_id[str(OPERATIONS)] == {
            "id": str(OPERATIONS),
            "type": "error",
            "payload": [
                {
                    "message": "Subscription limit reached: an anonymous connection holds at "
                    f"most {OPERATIONS} operations at once; complete one first."
                }
            ],
        }
    finally:
        await socket.close()
