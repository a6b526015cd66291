"""An operation the client got wrong is answered, never dropped, and logs no traceback:
over graphql-transport-ws every invalid subscription (a syntax error, an unknown field, a
bad `DateTime` literal or variable) gets the protocol's `error` message for its id, and the
socket stays open for the client's other operations (C10); over HTTP the same mistakes are
request errors. Real uvicorn on loopback, a raw `websockets` client to see the protocol's
own messages, and the app's log records and output read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from slotgraph.server.app import create_app
from slotgraph.server.settings import Settings
from tests.helpers.live import serve_in_thread

GUARD = 10  # seconds; a guard against hanging, never a measurement
WINDOW = 'start: "2030-01-07T00:00:00Z", end: "2030-01-08T00:00:00Z", timeZone: "UTC"'
SLOTS = (
    f'subscription {{ availabilityChanged(pageSlug: "nobody/none", {WINDOW}) {{ __typename }} }}'
)
INVALID: dict[str, tuple[str, dict[str, Any]]] = {
    "syntax": ("subscription { availabilityChanged(", {}),
    "unknown field": ("subscription { nothingHere }", {}),
    "bad DateTime literal": (
        'subscription { availabilityChanged(pageSlug: "a/b", start: "garbage", '
        'end: "2030-01-08T00:00:00Z", timeZone: "UTC") { __typename } }',
        {},
    ),
    "bad DateTime variable": (
        'subscription($start: DateTime!) { availabilityChanged(pageSlug: "a/b", '
        'start: $start, end: "2030-01-08T00:00:00Z", timeZone: "UTC") { __typename } }',
        {"start": "2030-13-45T99:00:00Z"},
    ),
}


@pytest.fixture(scope="module")
def live(settings: Settings, database_url: str, engine: AsyncEngine) -> Iterator[str]:
    """The app on the migrated test database (`engine`), served on loopback."""
    app = create_app(settings.model_copy(update={"db_pool_size": 2}), database_url)
    with serve_in_thread(app) as base:
        yield base


def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(socket.recv(timeout=GUARD))
    return message


def assert_no_traceback(caplog: pytest.LogCaptureFixture, output: str) -> None:
    """Neither a log record nor the process's stdout or stderr (the request lines) shows one."""
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in output
    assert "unexpected error" not in output


@pytest.mark.parametrize("mistake", list(INVALID))
def test_every_invalid_subscription_gets_an_error_message_and_the_socket_stays(
    live: str, mistake: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    query, variables = INVALID[mistake]
    url = live.replace("http://", "ws://") + "/graphql"
    with connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=GUARD
    ) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert receive(socket)["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        socket.send(json.dumps({"id": "bad", "type": "subscribe", "payload": payload}))
        answer = receive(socket)
        assert (answer["id"], answer["type"]) == ("bad", "error"), answer
        assert answer["payload"]
        assert all(error["message"] for error in answer["payload"])
        assert "INTERNAL" not in json.dumps(answer)

        # The same socket still serves: an unknown page streams its typed answer.
        socket.send(json.dumps({"id": "good", "type": "subscribe", "payload": {"query": SLOTS}}))
        assert receive(socket) == {
            "id": "good",
            "type": "next",
            "payload": {"data": {"availabilityChanged": {"__typename": "NotFound"}}},
        }
    assert_no_traceback(caplog, "".join(capfd.readouterr()))


@pytest.mark.parametrize("mistake", list(INVALID))
def test_every_invalid_operation_over_http_is_a_request_error_without_a_traceback(
    live: str, mistake: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    query, variables = INVALID[mistake]
    query = query.replace("subscription", "query", 1).replace(
        "availabilityChanged", "availableSlots"
    )
    with httpx.Client(base_url=live, timeout=GUARD, trust_env=False) as client:
        response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"]
    assert "INTERNAL" not in response.text
    assert_no_traceback(caplog, "".join(capfd.readouterr()))
