"""A real `slotgraph serve` process and a real graphql-transport-ws client (`gql`):
authentication in `connection_init` (C10), health routes, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosedError

from bench.serve import serve
from models.crypto import generate_key
from tests.conftest import Factory

VIEWER = gql("query { viewer { name } }")


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`slotgraph serve --workers 2` on the test database, stopped with SIGTERM."""
    served = serve(database_url, generate_key(), tmp_path_factory.mktemp("serve"), workers=2)
    yield served.base
    assert served.stop() == 0  # graceful shutdown


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
