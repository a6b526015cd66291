"""The push notification routes: `POST /notifications/google` for `events.watch` channels
and `POST /notifications/microsoft` for Graph change and lifecycle notifications, including
Graph's validation handshake.

They only read the request, hand it to `slotgraph.calsync.notifications` (which verifies
it and makes the connection due, as of `Services.clock`) and answer at once: Google wants
a 2xx quickly, Graph within 3 seconds for notifications and 10 seconds for the handshake.
Bodies are bounded; an unknown channel is 404, a wrong token or clientState 401, with
nothing changed; a failure of ours is a 503 (the provider retries), never a 500. Nothing
logged holds a token or clientState.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Final

import structlog
from starlette.requests import ClientDisconnect
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.responses import Response

from slotgraph.calsync.notifications import Verdict
from slotgraph.calsync.notifications import google_notification
from slotgraph.calsync.notifications import graph_notifications

if TYPE_CHECKING:
    from slotgraph.usecases.services import Services

log = structlog.get_logger("slotgraph.notifications")

MAX_BODY: Final = 256 * 1024  # Graph batches; Google sends no body
MAX_HEADER: Final = 512
MAX_VALIDATION_TOKEN: Final = 4096
MAX_ITEMS: Final = 1000
STATUS: Final = {Verdict.ACCEPTED: 200, Verdict.UNKNOWN: 404, Verdict.FORGED: 401}

Endpoint = Callable[[Request], Awaitable[Response]]


class BodyTooLarge(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _plain(status: int, text: str = "") -> Response:
    return PlainTextResponse(text, status_code=status)


def _guarded(name: str, handler: Endpoint) -> Endpoint:
    """Any failure of ours answers 503, logged by type only (locals may hold secrets)."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except BodyTooLarge:
            return _plain(413, "Notification body too large.")
        except ClientDisconnect:
            return _plain(400)
        except Exception as error:  # the provider retries a 5xx; it must not be a 500
            log.error("notification failed", route=name, error=type(error).__name__)
            return _plain(503, "Try again later.")

    return endpoint


def google_endpoint(services: Services) -> Endpoint:
    async def handle(request: Request) -> Response:
        await _bounded_body(request, MAX_BODY)
        headers = request.headers
        values = [
            headers.get(name, "")
            for name in (
                "x-goog-channel-id",
                "x-goog-channel-token",
                "x-goog-resource-id",
                "x-goog-resource-state",
            )
        ]
        if not all(values) or any(len(value) > MAX_HEADER for value in values):
            return _plain(400, "Not a Google Calendar notification.")
        channel_id, token, resource_id, state = values
        verdict = await google_notification(
            services.sessionmaker,
            channel_id=channel_id,
            token=token,
            resource_id=resource_id,
            state=state,
            now=services.clock(),
        )
        if verdict is not Verdict.ACCEPTED:
            log.warning("google notification refused", verdict=verdict.value)
        return _plain(STATUS[verdict])

    return _guarded("google", handle)


def microsoft_endpoint(services: Services) -> Endpoint:
    async def handle(request: Request) -> Response:
        validation = request.query_params.get("validationToken")
        if validation is not None:
            # Graph's handshake before it accepts a subscription: echo the token as text.
            if len(validation) > MAX_VALIDATION_TOKEN:
                return _plain(400, "Validation token too long.")
            return _plain(200, validation)
        body = await _bounded_body(request, MAX_BODY)
        try:
            payload = json.loads(body)
        except ValueError:
            return _plain(400, "Not a Graph notification.")
        items = payload.get("value") if isinstance(payload, dict) else None
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            return _plain(400, "Not a Graph notification.")
        notifications = [item for item in items if isinstance(item, dict)]
        accepted, refused = await graph_notifications(
            services.sessionmaker, notifications, now=services.clock()
        )
        if refused and not accepted:
            return _plain(401, "Unknown subscription or clientState.")
        return _plain(202)

    return _guarded("microsoft", handle)
