"""The database away (C30, C47), over real HTTP and websockets against `slotgraph serve`
whose PostgreSQL sits behind a TCP proxy the test cuts (the machine's server keeps
running): GraphQL answers 503 with `Retry-After` and `extensions.code`
SERVICE_UNAVAILABLE for queries and mutations, anonymous or signed in, never HTTP 200
"Unexpected error."; a websocket learns it clearly; `/readyz` answers within 2 seconds
whether the server refuses connections or stops answering, and a burst of `/readyz` calls
opens one database connection, not one each; and everything works again once the database
is back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from slotgraph.server.unavailable import ReadyCheck
from tests.helpers.accounts import Factory
from tests.helpers.bookings import BOOK
from tests.helpers.bookings import page_and_nine
from tests.helpers.graphql import GraphQLClient
from tests.helpers.pages import SLOTS
from tests.helpers.serving import serve
from tests.helpers.tcp_proxy import TcpProxy
from tests.helpers.tcp_proxy import tcp_proxy

VIEWER = "query { viewer { name } }"
SUBSCRIBE = """
subscription Slots($slug: String!, $start: DateTime!, $end: DateTime!, $tz: String!) {
  availabilityChanged(pageSlug: $slug, start: $start, end: $end, timeZone: $tz) {
    __typename
  }
}
"""


@pytest.fixture(scope="module")
def proxy(database_url: str) -> Iterator[TcpProxy]:
    with tcp_proxy(database_url) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def server(proxy: TcpProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"SLOTGRAPH_RUN_WORKER": "false"}
    with serve(proxy.url, tmp_path_factory.mktemp("away"), workers=1, env=env) as base:
        yield base


@pytest.fixture
def database_back(proxy: TcpProxy) -> Iterator[TcpProxy]:
    """The proxy, forwarding again after the test whatever it cut."""
    try:
        yield proxy
    finally:
        proxy.restore()


async def post(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def morning(slug: str, nine: dt.datetime) -> dict[str, str]:
    """`SLOTS` variables: the page's slots from nine to noon."""
    end = nine + dt.timedelta(hours=3)
    return {"slug": slug, "start": nine.isoformat(), "end": end.isoformat(), "tz": "UTC"}


def assert_service_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
    assert "Unexpected error" not in error["message"]


async def test_graphql_answers_503_while_the_database_is_away_and_recovers(
    server: str, database_back: TcpProxy, factory: Factory
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        ada, slug, nine = await page_and_nine(GraphQLClient(client), factory)
        window = morning(slug, nine)
        booking = {
            "pageSlug": slug,
            "start": nine.isoformat(),
            "timeZone": "UTC",
            "contact": {"name": "Cleo", "email": "cleo@example.test"},
        }
        assert (await post(client, SLOTS, **window)).status_code == 200

        database_back.refuse()
        assert_service_unavailable(await post(client, SLOTS, **window))
        assert_service_unavailable(await post(client, BOOK, input=booking))
        # The token's lookup fails before GraphQL runs.
        assert_service_unavailable(await post(client, VIEWER, token=ada.token))

        database_back.restore()
        slots = await post(client, SLOTS, **window)
        assert slots.status_code == 200
        assert slots.json()["data"]["availableSlots"]["__typename"] == "AvailableSlots"
        booked = await post(client, BOOK, input=booking)
        assert booked.json()["data"]["bookMeeting"]["__typename"] == "BookMeetingSuccess"


async def test_a_database_that_stops_answering_gives_503_not_a_hang(
    server: str, database_back: TcpProxy, factory: Factory
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=60) as client:
        _, slug, nine = await page_and_nine(GraphQLClient(client), factory)
        window = morning(slug, nine)
        database_back.blackhole()
        started = time.monotonic()
        assert_service_unavailable(await post(client, SLOTS, **window))
        assert time.monotonic() - started < 30  # generous: the connect timeout is 5 s


@pytest.mark.parametrize("cut", ["refuse", "blackhole"])
async def test_readyz_answers_within_two_seconds_whatever_the_database_does(
    server: str, database_back: TcpProxy, cut: str
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        assert (await client.get("/readyz")).status_code == 200
        getattr(database_back, cut)()
        await asyncio.sleep(ReadyCheck.CACHE_SECONDS)  # the success seen just before expires
        started = time.monotonic()
        ready = await client.get("/readyz")
        assert time.monotonic() - started < 2
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "unavailable", "database": "unreachable"},
        )
        database_back.restore()
        assert (await client.get("/readyz")).status_code == 200


async def test_websockets_learn_clearly_that_the_database_is_away(
    server: str, database_back: TcpProxy, factory: Factory
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        ada, slug, nine = await page_and_nine(GraphQLClient(client), factory)
    ws_url = server.replace("http://", "ws://") + "/graphql"
    protocol = [Subprotocol("graphql-transport-ws")]
    database_back.refuse()

    # Signed in: the token cannot be checked, so the socket is closed "try again later".
    async with connect(ws_url, subprotocols=protocol) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": ada.token}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "database unavailable")

    # Anonymous: the subscription itself gets an error naming the cause.
    async with connect(ws_url, subprotocols=protocol) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        variables = morning(slug, nine)
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": variables},
                }
            )
        )
        message = json.loads(await socket.recv())
    assert message["type"] in {"error", "next"}, message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["SERVICE_UNAVAILABLE"], message


async def test_a_burst_of_readyz_calls_shares_one_database_check(
    server: str, database_back: TcpProxy
) -> None:
    async with httpx.AsyncClient(
        base_url=server, timeout=30, limits=httpx.Limits(max_connections=200)
    ) as client:
        assert (await client.get("/readyz")).status_code == 200  # warm: keep-alive, listener
        opened = database_back.accepted
        answers = await asyncio.gather(*(client.get("/readyz") for _ in range(100)))
    assert {a.status_code for a in answers} == {200}
    # One ping per second at most (the burst may straddle a second); before, one per call.
    assert database_back.accepted - opened <= 3
