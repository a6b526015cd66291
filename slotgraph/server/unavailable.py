"""C30, the database away: `/readyz`, and what fails outside GraphQL's own execution.

`/readyz` checks the database on a connection of its own with a short timeout, so it
answers within 2 seconds whatever the pool's state (exhausted, or waiting on a server that
stopped answering); one check serves every concurrent call (`ReadyCheck`).

Outside GraphQL's own execution: a request that meets an unreachable database
before GraphQL runs (the bearer token's lookup, the OAuth callback, the push routes) is
answered 503 with `Retry-After` and a GraphQL-shaped error, never a 500; a websocket
whose `connection_init` could not be checked is closed with 1013 (try again later), not
with 4403 as if its token were refused.

Errors inside GraphQL execution are answered by `slotgraph.graph.extensions`, which sets
the same status and header.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from typing import Any

import structlog
from starlette.responses import JSONResponse
from starlette.responses import Response

from slotgraph.graph.errors import RETRY_AFTER_SECONDS
from slotgraph.graph.errors import SERVICE_UNAVAILABLE_MESSAGE
from slotgraph.graph.errors import service_unavailable_extensions
from slotgraph.models.db import ping
from slotgraph.models.reachability import database_unreachable

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.types import ASGIApp
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

log = structlog.get_logger("slotgraph.http")
# Set by the websocket's `on_ws_connect` when it met the database away and refused.
WS_DATABASE_AWAY = "database_away"
TRY_AGAIN_LATER = 1013
READY_CHECK_SECONDS = 1.5  # within C30's 2 seconds, with room for the HTTP round trip


class ReadyCheck:
    """The database check behind `/readyz`, shared by every request of the process: one
    ping in flight at a time, whoever asks, and a success kept for `CACHE_SECONDS`. A probe
    per request would open a connection per request, and a burst of ~100 calls would take
    all of PostgreSQL's `max_connections` from the service it is meant to watch.

    A failure is not kept: the next call pings again (still one at a time), so readiness
    comes back as soon as the database does."""

    CACHE_SECONDS = 1.0

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._inflight: asyncio.Task[None] | None = None
        self._ok_at: float | None = None

    async def check(self) -> None:
        """Return if the database answered within the last second; raise otherwise."""
        now = time.monotonic()
        if self._ok_at is not None and now - self._ok_at < self.CACHE_SECONDS:
            return
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._ping(), name="readyz-ping")
        # Shielded: a client that hangs up must not cancel the ping others wait on.
        await asyncio.shield(self._inflight)

    async def _ping(self) -> None:
        try:
            await ping(self._database_url, seconds=READY_CHECK_SECONDS)
            self._ok_at = time.monotonic()
        finally:
            self._inflight = None


def readyz_endpoint(database_url: str) -> Callable[[Request], Awaitable[Response]]:
    ready = ReadyCheck(database_url)

    async def readyz(_: Request) -> Response:
        try:
            await ready.check()
        except Exception as error:  # any failure means "not ready"; the reason goes to the log
            log.warning("database not reachable", error=repr(error))
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    return readyz


def mark_websocket_database_away(scope: Any) -> None:
    scope.setdefault("state", {})[WS_DATABASE_AWAY] = True


def service_unavailable_response(request_id: str | None) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": SERVICE_UNAVAILABLE_MESSAGE,
                    "extensions": service_unavailable_extensions(request_id),
                }
            ]
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class DatabaseAway:
    """ASGI middleware: 503 for an unreachable database instead of the server error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, receive, _closing_clearly(scope, send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if started or not database_unreachable(error):
                raise
            request_id = scope.get("state", {}).get("request_id")
            log.warning("database unreachable", path=scope["path"], error=repr(error))
            await service_unavailable_response(request_id)(scope, receive, send)


def _closing_clearly(scope: Scope, send: Send) -> Send:
    async def send_close(message: Message) -> None:
        if message["type"] == "websocket.close" and scope.get("state", {}).get(WS_DATABASE_AWAY):
            message = {**message, "code": TRY_AGAIN_LATER, "reason": "database unavailable"}
        await send(message)

    return send_close
