"""The contact pages' routes, which `create_app` adds in one call: the app's own static files
under the reserved `/meetings/static` (C41; no CDN) and the booking page at every page's
`url` (C18), on the app domain and on connected domains alike, its embed under the reserved
`/meetings/embed`, and the manage page with its iCalendar download under the reserved
`/meetings/manage`. A limit's refusal (C25) anywhere is the 429 page."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.routing import Mount
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from slotgraph.web.api import Api
from slotgraph.web.api import Limited
from slotgraph.web.booking import Pages
from slotgraph.web.manage import Manage
from slotgraph.web.security import Signer

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable

    from starlette.responses import Response
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send
    from strawberry.schema.base import BaseSchema

    from slotgraph.usecases.services import Services

STATIC = Path(__file__).parent / "static"


class CachedStatic(StaticFiles):
    """Static files with a day's public caching (they change only with a release)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"public, max-age=86400"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await super().__call__(scope, receive, send_cached)


def answering_limits(
    pages: Pages, view: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def limited_view(request: Request) -> Response:
        try:
            return await view(request)
        except Limited as refused:
            return pages.limited(request, refused)

    return limited_view


def web_routes(
    schema: BaseSchema, services: Services, secret_keys: tuple[str, ...]
) -> list[BaseRoute]:
    """`secret_keys` are the app's; the newest signs forms, so every process agrees (without
    one, as in a throwaway demo, a random key of this process)."""
    pages = Pages(
        api=Api(schema, services),
        signer=Signer(secret_keys[0] if secret_keys else secrets.token_hex(32)),
        app_host=(urlsplit(services.public_base_url).hostname or "").lower(),
    )
    manage = Manage(pages)
    return [
        Mount("/meetings/static", CachedStatic(directory=STATIC), name="static"),
        Route("/meetings/manage", answering_limits(pages, manage.view), methods=["GET", "POST"]),
        Route("/meetings/manage/invite.ics", answering_limits(pages, manage.ics), methods=["GET"]),
        Route(
            "/meetings/embed/{slug:path}",
            answering_limits(pages, pages.embed),
            methods=["GET", "POST"],
        ),
        Route(
            "/meetings/{slug:path}", answering_limits(pages, pages.view), methods=["GET", "POST"]
        ),
    ]
