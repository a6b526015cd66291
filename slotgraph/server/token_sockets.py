"""Ending a token's open websockets when it stops working (C23): revoked, expired, or its
user deactivated, on every process within seconds.

ASGI middleware around the websocket route. It follows the graphql-transport-ws operation
ids going through the socket (client `subscribe` / `complete`, server `complete` / `error`),
and once `on_ws_connect` authenticated a token (`watch_token`), it waits for that token's
notice on the `token_revoked` pub/sub channel, or for its expiry time. It then sends an
`error` for each open operation and closes the socket (4403, as for an invalid token, C10),
and tells Strawberry's handler the client left, so it cleans the operations up.

Nothing polls per socket: a wake-up is one notice (or a listener resync, after which the
token is re-read once from the database, since a resync does not mean a revocation). The
token is also read once right after subscribing, for a revocation between authentication
and the subscribe, whose notice no one here heard.
Hand-written rather than hooked into Strawberry's handler, whose operation table is not a
public API at the pinned version; the ASGI messages are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING
from typing import Any

import structlog

from slotgraph.notices.revocations import TOKEN_REVOKED
from slotgraph.usecases.tokens import token_is_active

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

log = structlog.get_logger("slotgraph.ws")

STATE_KEY = "token_socket"
CLOSE_CODE = 4403
ENDED_MESSAGE = "The API token was revoked or has expired; sign in with a new one."


class TokenSocket:
    """One websocket: its open operation ids and, once authenticated, the watch on its token."""

    def __init__(self, services: Services, receive: Receive, send: Send) -> None:
        self._services = services
        self._receive = receive
        self._send = send
        self._lock = asyncio.Lock()
        self._ended = asyncio.Event()
        self._closed = False
        self._next: asyncio.Task[Message] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.operations: set[str] = set()

    async def receive(self) -> Message:
        """The client's next message, or a disconnect once the token's socket was ended."""
        if self._next is None:
            self._next = asyncio.ensure_future(self._receive())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({self._next, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not self._next.done():
            return {"type": "websocket.disconnect", "code": CLOSE_CODE}
        message = self._next.result()
        self._next = None
        self._track(message.get("text"), client=True)
        return message

    async def send(self, message: Message) -> None:
        async with self._lock:
            if self._closed:
                return  # the socket was ended; Strawberry's late messages go nowhere
            if message["type"] == "websocket.close":
                self._closed = True
            self._track(message.get("text"), client=False)
            await self._send(message)

    def _track(self, text: Any, *, client: bool) -> None:
        if not isinstance(text, str):
            return
        # Only these three messages change the set; skip parsing the (many) `next` messages.
        if '"subscribe"' not in text and '"complete"' not in text and '"error"' not in text:
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            return
        kind, id = message.get("type"), message["id"]
        if client and kind == "subscribe":
            self.operations.add(id)
        elif kind in ("complete", "error"):
            self.operations.discard(id)

    def watch(self, viewer: Viewer) -> None:
        if self._watch is None:
            self._watch = asyncio.create_task(self._wait_for_end(viewer), name="token-watch")

    async def _wait_for_end(self, viewer: Viewer) -> None:
        with self._services.pubsub.subscribe(TOKEN_REVOKED, str(viewer.token_id)) as notices:
            # A revocation published between `authenticate` and this subscribe reached no one
            # here: read the token once now that any later notice will arrive.
            if not await token_is_active(self._services, viewer.token_id):
                await self.end()
                return
            timeout = None
            if viewer.expires_at is not None:
                timeout = max(0.0, (viewer.expires_at - self._services.clock()).total_seconds())
            try:
                async with asyncio.timeout(timeout):
                    async for _ in notices:
                        if not await token_is_active(self._services, viewer.token_id):
                            break
                    else:
                        return  # the pub/sub stopped: the process is shutting down
            except TimeoutError:
                pass  # expired
        await self.end()

    async def end(self) -> None:
        """An error for each open operation, then close; the handler sees a disconnect."""
        async with self._lock:
            if self._closed:
                return
            payload = [{"message": ENDED_MESSAGE, "extensions": {"code": "UNAUTHENTICATED"}}]
            with contextlib.suppress(Exception):  # the client may already be gone
                for id in sorted(self.operations):
                    text = json.dumps({"id": id, "type": "error", "payload": payload})
                    await self._send({"type": "websocket.send", "text": text})
                await self._send(
                    {"type": "websocket.close", "code": CLOSE_CODE, "reason": "Token ended"}
                )
            self._closed = True
        self._ended.set()
        log.info("websocket ended: token revoked or expired", operations=len(self.operations))

    async def aclose(self) -> None:
        for task in (self._watch, self._next):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


class TokenSockets:
    """The middleware: one `TokenSocket` per websocket, found by `watch_token`."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        socket = TokenSocket(self.services, receive, send)
        scope.setdefault("state", {})[STATE_KEY] = socket
        try:
            await self.app(scope, socket.receive, socket.send)
        finally:
            await socket.aclose()


def watch_token(scope: Scope, viewer: Viewer | None) -> None:
    """Called once a websocket authenticated `viewer`: end it when the token stops working."""
    socket = scope.get("state", {}).get(STATE_KEY)
    if viewer is not None and isinstance(socket, TokenSocket):
        socket.watch(viewer)
