"""Only no credential means anonymous (C10, C32): no `Authorization` header, or an empty or
blank one, and no or an empty `authorization` in `connection_init`. Any other value that
does not authenticate (a number, list, object or boolean, `Bearer` without a token, a
malformed, unknown or revoked token) is refused: 401 on HTTP, close 4403 on websockets.
Real uvicorn on loopback and a raw graphql-transport-ws client."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.accounts import Factory
from tests.helpers.live import serve_in_thread

GUARD = 10  # seconds; a guard against hanging, never a measurement
VIEWER = "query { viewer { name } }"
UNKNOWN = "sg_not-a-real-token-0000000000"
ANONYMOUS = {"data": {"viewer": None}}
UNUSABLE: list[object] = [
    42,
    0,
    1.5,
    True,
    False,
    ["Bearer x"],
    [],
    {"token": UNKNOWN},
    {},
    "Bearer",
    "Bearer   ",
    "bearer",
    f"Basic {UNKNOWN}",
    UNKNOWN,
    f"Bearer {UNKNOWN}",
    f"Bearer {UNKNOWN} extra",
    "\x00",
]


@pytest.fixture(scope="module")
def live(settings: Settings, database_url: str, engine: AsyncEngine) -> Iterator[str]:
    """The app on the migrated test database (`engine`), served on loopback."""
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url)
    with serve_in_thread(app) as base:
        yield base


def over_websocket(live: str, payload: dict[str, Any]) -> dict[str, Any] | int:
    """The answer to VIEWER after `connection_init` with `payload`, or the close code."""
    url = live.replace("http://", "ws://") + "/graphql"
    with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=GUARD
    ) as socket:
        try:
            socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert json.loads(socket.recv(timeout=GUARD))["type"] == "connection_ack"
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": VIEWER}}
            socket.send(json.dumps(subscribe))
            message = json.loads(socket.recv(timeout=GUARD))
        except ConnectionClosed as closed:
            return -1 if closed.rcvd is None else closed.rcvd.code
    assert message["type"] == "next", message
    payload_: dict[str, Any] = message["payload"]
    return payload_


def over_http(live: str, header: str | None) -> tuple[int, dict[str, Any]]:
    """VIEWER posted with `header` sent byte for byte (httpx refuses blank values)."""
    url = urlsplit(live)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=GUARD)
    try:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["Authorization"] = header
        connection.request("POST", "/graphql", json.dumps({"query": VIEWER}), headers)
        response = connection.getresponse()
        body: dict[str, Any] = json.loads(response.read())
    finally:
        connection.close()
    return response.status, body


@pytest.mark.parametrize(
    "payload",
    [{}, {"authorization": ""}, {"authorization": "   "}, {"authorization": None}],
    ids=["absent", "empty", "blank", "null"],
)
def test_no_credential_in_connection_init_is_anonymous(live: str, payload: dict[str, Any]) -> None:
    assert over_websocket(live, payload) == ANONYMOUS


@pytest.mark.parametrize("value", UNUSABLE, ids=repr)
def test_an_unusable_credential_in_connection_init_is_refused_with_4403(
    live: str, value: object
) -> None:
    assert over_websocket(live, {"authorization": value}) == 4403


def test_the_connection_init_key_is_read_in_any_case(live: str) -> None:
    assert over_websocket(live, {"Authorization": 42}) == 4403
    assert over_websocket(live, {"authorization": "", "AUTHORIZATION": UNKNOWN}) == 4403


async def test_a_good_token_in_connection_init_signs_in(live: str, factory: Factory) -> None:
    ada = await factory.person(name="Ada")
    for value in (f"Bearer {ada.token}", ada.token, f"  bearer   {ada.token}  "):
        assert over_websocket(live, {"authorization": value}) == {
            "data": {"viewer": {"name": "Ada"}}
        }


@pytest.mark.parametrize("header", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_no_authorization_header_is_anonymous(live: str, header: str | None) -> None:
    assert over_http(live, header) == (200, ANONYMOUS)


@pytest.mark.parametrize("header", [v for v in UNUSABLE if isinstance(v, str) and v != "\x00"])
def test_an_unusable_authorization_header_is_refused_with_401(live: str, header: str) -> None:
    status, body = over_http(live, header)
    assert status == 401
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
