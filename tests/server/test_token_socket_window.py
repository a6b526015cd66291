"""A revocation that lands between a websocket's authentication and its watch on the
`token_revoked` channel (C23): its notice went out while no one listened, so the watch
reads the token once after subscribing, and the socket ends all the same. Real parts: the
app's services (PostgreSQL, its LISTEN/NOTIFY pub/sub) and the ASGI middleware's socket."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.types import Message

from slotgraph.server.token_sockets import CLOSE_CODE
from slotgraph.server.token_sockets import TokenSocket
from slotgraph.usecases.api_tokens import revoke_api_token
from slotgraph.usecases.services import Services
from slotgraph.usecases.tokens import authenticate
from tests.helpers.accounts import Factory

ENDS_WITHIN = 5.0  # seconds, generous


def _socket(services: Services) -> tuple[TokenSocket, list[Message]]:
    """The middleware's socket for a client that stays silent; what it sends is collected."""
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.Event().wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    return TokenSocket(services, receive, send), sent


async def test_a_token_revoked_before_the_watch_subscribed_still_ends_its_socket(
    app: Starlette, factory: Factory
) -> None:
    services: Services = app.state.runtime.services
    ada = await factory.person()
    viewer = await authenticate(services, ada.token)  # the socket's connection_init
    assert viewer is not None
    # In the window: committed and published before the socket listens for the notice.
    await revoke_api_token(services, viewer, viewer.token_id)

    socket, sent = _socket(services)
    socket.watch(viewer)
    try:
        seen = await asyncio.wait_for(socket.receive(), ENDS_WITHIN)
    finally:
        await socket.aclose()
    assert seen == {"type": "websocket.disconnect", "code": CLOSE_CODE}
    assert sent == [{"type": "websocket.close", "code": CLOSE_CODE, "reason": "Token ended"}]


async def test_a_token_still_active_keeps_its_socket(app: Starlette, factory: Factory) -> None:
    services: Services = app.state.runtime.services
    ada = await factory.person()
    viewer = await authenticate(services, ada.token)
    assert viewer is not None
    socket, sent = _socket(services)
    socket.watch(viewer)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.receive(), 1.0)
    finally:
        await socket.aclose()
    assert sent == []
