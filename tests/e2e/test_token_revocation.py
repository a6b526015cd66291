"""A revoked or expired token ends its open subscriptions on every process (C23): two
`slotgraph serve` processes on one database, a raw graphql-transport-ws client on process B
subscribed to `syncStatus`, the token revoked through process A. The socket gets an `error`
for its operation, then a close (4403), well within 5 seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from slotgraph.graph.relay import to_global_id
from slotgraph.models.enums import Role
from tests.helpers.accounts import Factory
from tests.helpers.graphql import GraphQLClient
from tests.helpers.serving import serve
from tests.helpers.sockets import subscribed

ENDS_WITHIN = 5.0  # seconds: the bound C23 promises, asserted generously (it is the promise)
CREATE = """
mutation Create($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    ... on CreateApiTokenSuccess { secret apiToken { id } }
  }
}
"""
DEACTIVATE = "mutation D($id: ID!) { deactivateUser(input: {id: $id}) { __typename } }"
REVOKE = "mutation R($id: ID!) { revokeApiToken(input: {id: $id}) { __typename } }"
API_ONLY = {"SLOTGRAPH_RUN_WORKER": "false"}


@pytest.fixture(scope="module")
def processes(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The base URLs of two API processes, A and B, each with its own pub/sub listener."""
    logs: Path = tmp_path_factory.mktemp("serve")
    with (
        serve(database_url, logs, workers=1, env=API_ONLY) as a,
        serve(database_url, logs, workers=1, env=API_ONLY) as b,
    ):
        yield [a, b]


@asynccontextmanager
async def http(base: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        yield GraphQLClient(client)


async def ending(socket: ClientConnection) -> tuple[list[dict[str, Any]], int | None, float]:
    """The messages until the server closes the socket, its close code, and the seconds it
    took."""
    started = asyncio.get_running_loop().time()
    messages: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(ENDS_WITHIN + 10):
            async for text in socket:
                messages.append(json.loads(text))
    except (TimeoutError, ConnectionClosed):
        pass  # a close with a code other than 1000 ends `async for` with ConnectionClosedError
    code = socket.close_code
    return messages, code, asyncio.get_running_loop().time() - started


def _error_then_close(messages: list[dict[str, Any]], code: int | None, took: float) -> None:
    assert [(m["type"], m.get("id")) for m in messages] == [("error", "1")], messages
    assert messages[0]["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert code == 4403
    assert took < ENDS_WITHIN


async def test_a_token_revoked_on_one_process_ends_its_subscription_on_another(
    processes: list[str], factory: Factory
) -> None:
    a, b = processes
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    connection_id = to_global_id("CalendarConnection", connection.id)
    async with http(a) as on_a:
        created = await on_a(CREATE, {"input": {"name": "ws", "scopes": ["read"]}}, token=ada.token)
        token = created["data"]["createApiToken"]
        async with subscribed(b, token["secret"], connection_id) as socket:
            await on_a(REVOKE, {"id": token["apiToken"]["id"]}, token=ada.token)
            _error_then_close(*await ending(socket))
        # A token still valid keeps its socket: only the revoked one ended.
        async with subscribed(b, ada.token, connection_id) as socket:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(socket.recv(), 1.5)


async def test_deactivating_a_user_ends_their_subscriptions_on_another_process(
    processes: list[str], factory: Factory
) -> None:
    a, b = processes
    admin = await factory.person(role=Role.ADMIN)
    bo = await factory.person(account=admin.account)
    connection, _ = await factory.connection(bo)
    async with (
        http(a) as on_a,
        subscribed(b, bo.token, to_global_id("CalendarConnection", connection.id)) as socket,
    ):
        await on_a(DEACTIVATE, {"id": to_global_id("User", bo.user.id)}, token=admin.token)
        _error_then_close(*await ending(socket))


async def test_an_expiring_token_ends_its_subscription_when_it_expires(
    processes: list[str], factory: Factory
) -> None:
    _, b = processes
    ada = await factory.person()
    connection, _ = await factory.connection(ada)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    async with http(b) as on_b:
        created = await on_b(
            CREATE,
            {"input": {"name": "ws", "scopes": ["read"], "expiresAt": soon.isoformat()}},
            token=ada.token,
        )
    secret = created["data"]["createApiToken"]["secret"]
    async with subscribed(b, secret, to_global_id("CalendarConnection", connection.id)) as socket:
        messages, code, took = await ending(socket)
    _error_then_close(messages, code, took)
