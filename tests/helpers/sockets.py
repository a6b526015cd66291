"""A raw graphql-transport-ws client subscribed to `syncStatus`, for tests that watch what
happens to an open subscription (its end on revocation, the socket gauges)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import websockets
from websockets.asyncio.client import ClientConnection

SYNC_STATUS = """
subscription Sync($id: ID!) { syncStatus(connectionId: $id) { __typename } }
"""


@asynccontextmanager
async def subscribed(base: str, token: str, connection_id: str) -> AsyncIterator[ClientConnection]:
    """A socket on `base` authenticated by `token`, subscribed (id "1") to syncStatus and past
    its first event."""
    url = base.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": token}})
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        payload = {"query": SYNC_STATUS, "variables": {"id": connection_id}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (first["type"], first["id"]) == ("next", "1"), first
        yield socket
