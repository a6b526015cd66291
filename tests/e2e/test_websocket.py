"""A real `slotgraph serve` process and a real graphql-transport-ws client (`gql`):
authentication in `connection_init` (C10), health routes, graceful shutdown; and, with a raw
`websockets` client to see the protocol's own messages, the socket limits: the subscription
past SLOTGRAPH_MAX_SUBSCRIPTIONS_PER_SOCKET is refused with an `error` message for that
operation only (what Strawberry's graphql-transport-ws handler sends), and a client offering
only the legacy `graphql-ws` subprotocol is closed with 4406."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gql import Client
from gql import gql
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError
from websockets.typing import Subprotocol

from slotgraph.graph.relay import to_global_id
from slotgraph.models.db import create_engine
from slotgraph.models.db import create_sessionmaker
from slotgraph.models.db import migrate
from tests.helpers.accounts import Factory
from tests.helpers.database import new_database
from tests.helpers.serving import serve

VIEWER = gql("query { viewer { name } }")


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotgraph serve --workers 2` on the test database, stopped with SIGTERM."""
    with serve(database_url, tmp_path_factory.mktemp("serve"), workers=2) as base:
        yield base


@pytest.fixture
def ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/graphql"


async def run(url: str, payload: dict[str, str] | None) -> dict[str, object]:
    transport = WebsocketsTransport(url=url, init_payload=payload or {}, connect_timeout=5)
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        result: dict[str, object] = await asyncio.wait_for(session.execute(VIEWER), 10)
        return result


async def test_health_routes_and_request_ids(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=5) as client:
        health = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
        ready = await client.get("/readyz")
    assert (health.json(), health.headers["x-request-id"]) == ({"status": "ok"}, "trace-42")
    assert ready.json() == {"status": "ok", "database": "ok"}
    assert len(ready.headers["x-request-id"]) == 32


async def test_websocket_token_in_connection_init(ws_url: str, factory: Factory) -> None:
    ada = await factory.person(name="Ada")
    assert await run(ws_url, {"authorization": f"Bearer {ada.token}"}) == {
        "viewer": {"name": "Ada"}
    }
    assert await run(ws_url, {"authorization": ada.token}) == {"viewer": {"name": "Ada"}}


async def test_websocket_without_token_is_anonymous(ws_url: str) -> None:
    assert await run(ws_url, None) == {"viewer": None}


async def test_websocket_with_a_bad_token_is_closed_with_4403(ws_url: str) -> None:
    with pytest.raises(TransportConnectionFailed) as refused:
        await run(ws_url, {"authorization": "Bearer sg_not-a-real-token-0000000000"})
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosedError)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4403, "Forbidden")


async def test_http_through_several_workers(server: str, factory: Factory) -> None:
    ada = await factory.person(name="Ada")
    async with httpx.AsyncClient(base_url=server, timeout=5) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": "{ viewer { name } }"},
                    headers={"Authorization": f"Bearer {ada.token}"},
                )
                for _ in range(20)
            )
        )
    assert {response.status_code for response in answers} == {200}
    assert all(response.json() == {"data": {"viewer": {"name": "Ada"}}} for response in answers)


# -- socket limits (raw graphql-transport-ws frames) -------------------------------------

LIMIT = 2
GUARD = 10  # seconds; a guard against hanging, never a measurement
SYNC_STATUS = """
subscription($id: ID!) { syncStatus(connectionId: $id) { ... on SyncStatus { status } } }
"""
DISCONNECT = """
mutation($id: ID!) { disconnectCalendar(input: {connectionId: $id}) { __typename } }
"""


@pytest.fixture(scope="module")
async def lone_factory(server_url: str) -> AsyncIterator[tuple[str, Factory]]:
    """A database of its own, migrated, and a factory on it: the session's test database is
    shared with `server`, whose workers sync every due connection, and the factory's
    connections have no real credentials, so a sync there would turn their status to
    ACCESS_LOST under the subscriptions being counted."""
    async with new_database(server_url) as url:
        engine = create_engine(url, pool_size=2, max_overflow=0)
        try:
            await migrate(engine)
            yield url, Factory(create_sessionmaker(engine))
        finally:
            await engine.dispose()


@pytest.fixture(scope="module")
def limited_ws_url(
    lone_factory: tuple[str, Factory], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`slotgraph serve` allowing LIMIT operations per socket, on the lone database and
    without a background worker of its own (which would sync the connection too)."""
    env = {"SLOTGRAPH_MAX_SUBSCRIPTIONS_PER_SOCKET": str(LIMIT), "SLOTGRAPH_RUN_WORKER": "false"}
    database_url, _ = lone_factory
    with serve(database_url, tmp_path_factory.mktemp("limited"), workers=1, env=env) as base:
        yield base.replace("http://", "ws://") + "/graphql"


async def receive(socket: ClientConnection) -> dict[str, Any]:
    """The next protocol message other than a keep-alive ping."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), GUARD))
        if message["type"] != "ping":
            return message
        await socket.send(json.dumps({"type": "pong"}))


async def subscribe(socket: ClientConnection, operation_id: str, connection_id: str) -> None:
    await socket.send(
        json.dumps(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": SYNC_STATUS, "variables": {"id": connection_id}},
            }
        )
    )


def running(message: dict[str, Any], operation_id: str) -> bool:
    """The first `syncStatus` event of that subscription: the status the factory created."""
    return message == status(operation_id, "CONNECTED")


def status(operation_id: str, value: str) -> dict[str, Any]:
    return {
        "id": operation_id,
        "type": "next",
        "payload": {"data": {"syncStatus": {"status": value}}},
    }


async def test_the_subscription_past_the_socket_limit_is_refused_and_the_others_keep_running(
    limited_ws_url: str, lone_factory: tuple[str, Factory]
) -> None:
    _, factory = lone_factory
    ada = await factory.person(name="Ada")
    connection, _ = await factory.connection(ada)
    connection_id = to_global_id("CalendarConnection", connection.id)
    async with connect(
        limited_ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket:
        init = {"authorization": f"Bearer {ada.token}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        assert await receive(socket) == {"type": "connection_ack", "payload": None}
        for operation_id in ("1", "2"):
            await subscribe(socket, operation_id, connection_id)
            assert running(await receive(socket), operation_id)

        await subscribe(socket, "3", connection_id)
        assert await receive(socket) == {
            "id": "3",
            "type": "error",
            "payload": [{"message": "Subscription limit reached"}],
        }

        # Completing one frees its place; the socket itself was never closed.
        await socket.send(json.dumps({"id": "1", "type": "complete"}))
        await subscribe(socket, "4", connection_id)
        assert running(await receive(socket), "4")

        async with httpx.AsyncClient(
            base_url=limited_ws_url.replace("ws://", "http://").removesuffix("/graphql"),
            timeout=GUARD,
        ) as client:
            dropped = await client.post(
                "/graphql",
                json={"query": DISCONNECT, "variables": {"id": connection_id}},
                headers={"Authorization": f"Bearer {ada.token}"},
            )
        assert dropped.json() == {
            "data": {"disconnectCalendar": {"__typename": "DisconnectCalendarSuccess"}}
        }
        changes = [await receive(socket), await receive(socket)]
        assert sorted(changes, key=lambda m: str(m["id"])) == [
            status("2", "DISCONNECTED"),
            status("4", "DISCONNECTED"),
        ]


async def test_a_client_offering_only_the_legacy_graphql_ws_protocol_is_closed_with_4406(
    limited_ws_url: str,
) -> None:
    async with connect(limited_ws_url, subprotocols=[Subprotocol("graphql-ws")]) as socket:
        assert socket.subprotocol is None  # the server chose none of the offered ones
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(socket.recv(), GUARD)  # closed before any message
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4406,
        "Subprotocol not acceptable",
    )


RICHER_SYNC_STATUS = """
subscription($id: ID!) {
  syncStatus(connectionId: $id) { __typename ... on SyncStatus { status syncState } }
}
"""


async def open_socket(url: str, token: str) -> ClientConnection:
    socket = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    init = {"authorization": f"Bearer {token}"}
    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
    assert await receive(socket) == {"type": "connection_ack", "payload": None}
    return socket


async def test_grouped_fan_out_keeps_selections_and_viewers_apart(
    limited_ws_url: str, lone_factory: tuple[str, Factory]
) -> None:
    """Issue 15 (C49): subscribers share an execution only with the same document,
    variables and credential; a different selection or viewer gets its own frame."""
    _, factory = lone_factory
    ada = await factory.person(name="Ada Grouped")
    bob = await factory.person(name="Bob Grouped")
    connection, _ = await factory.connection(ada)
    connection_id = to_global_id("CalendarConnection", connection.id)
    plain, richer, other = (
        await open_socket(limited_ws_url, ada.token),
        await open_socket(limited_ws_url, ada.token),
        await open_socket(limited_ws_url, bob.token),
    )
    try:
        await subscribe(plain, "p", connection_id)
        assert running(await receive(plain), "p")
        query = {"query": RICHER_SYNC_STATUS, "variables": {"id": connection_id}}
        await richer.send(json.dumps({"id": "r", "type": "subscribe", "payload": query}))
        first = await receive(richer)
        assert first["id"] == "r"
        assert first["payload"]["data"]["syncStatus"]["__typename"] == "SyncStatus"
        assert "syncState" in first["payload"]["data"]["syncStatus"]
        await subscribe(other, "o", connection_id)
        assert await receive(other) == {
            "id": "o",
            "type": "next",
            "payload": {"data": {"syncStatus": {}}},  # Bob sees NotFound, not Ada's status
        }
        await other.send(json.dumps({"id": "o", "type": "complete"}))
    finally:
        for socket in (plain, richer, other):
            await socket.close()
