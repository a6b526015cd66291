"""`GET /robots.txt`, answered per request host (S15): a connected custom domain whose
operator asked for no indexing tells crawlers `Disallow: /meetings*`."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse
from starlette.responses import Response

from slotgraph.usecases.domains import robots_txt

if TYPE_CHECKING:
    from starlette.requests import Request

    from slotgraph.usecases.services import Services


def robots_endpoint(services: Services) -> Callable[[Request], Awaitable[Response]]:
    async def robots(request: Request) -> Response:
        host = request.url.hostname or ""
        body = await robots_txt(services, host)
        # Short cache: an operator's change shows within minutes.
        return PlainTextResponse(body, headers={"Cache-Control": "public, max-age=300"})

    return robots
