"""CORS for `/graphql` over HTTP (C24, C35), with Starlette's `CORSMiddleware`.

Allowed: the origins of `SLOTGRAPH_ALLOWED_ORIGINS` (SPAs elsewhere; none by default in
production, any in the demo), and always the app domain itself and every connected domain
(C35: those are same-origin for us, as pages are served there). Preflights are answered;
`Authorization` and `Content-Type` may be sent; credentials never are allowed, since auth is
a bearer token, not a cookie (C24).

The middleware's origin check is synchronous, while whether a host is a connected domain is
a database question. So `__call__` answers that question first, asynchronously, and hands
the answer to the check through a context variable (each request runs in its own context).
Answers are kept for a minute in a small bounded dictionary, so a burst of preflights costs
one query per origin; a new dependency (cachetools) would buy nothing over these lines.
"""

from __future__ import annotations

import contextvars
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import func, select
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware

from slotgraph.models import ConnectedDomain

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from slotgraph.usecases.services import Services

ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
ALLOWED_METHODS = ("GET", "POST")
PREFLIGHT_MAX_AGE_SECONDS = 600
DOMAIN_ANSWER_SECONDS = 60.0
MAX_REMEMBERED_ORIGINS = 1_000

_same_origin: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "slotgraph_cors_same_origin", default=False
)


def host_of(origin: str) -> str | None:
    """The lowercase host of an `Origin` value, or None when it is not a web origin."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


class GraphQLCors(CORSMiddleware):
    """`CORSMiddleware` that also admits the app domain and connected domains (C35)."""

    def __init__(
        self, app: ASGIApp, *, services: Services, allowed_origins: tuple[str, ...]
    ) -> None:
        super().__init__(
            app,
            allow_origins=allowed_origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            expose_headers=("X-Request-ID", "Retry-After"),
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )
        self.services = services
        self.app_host = host_of(services.public_base_url)
        self._answers: dict[str, tuple[float, bool]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        same = origin is not None and await self.is_same_origin(origin)
        token = _same_origin.set(same)
        try:
            await super().__call__(scope, receive, send)
        finally:
            _same_origin.reset(token)

    def is_allowed_origin(self, origin: str) -> bool:
        return _same_origin.get() or super().is_allowed_origin(origin)

    async def is_same_origin(self, origin: str) -> bool:
        """The app domain or a connected domain of some account (C35)."""
        host = host_of(origin)
        if host is None:
            return False
        if host == self.app_host:
            return True
        now = time.monotonic()
        remembered = self._answers.get(host)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        async with self.services.sessionmaker() as session:
            found = await session.scalar(
                select(ConnectedDomain.id).where(func.lower(ConnectedDomain.domain) == host)
            )
        if len(self._answers) >= MAX_REMEMBERED_ORIGINS:
            self._answers.clear()
        self._answers[host] = (now + DOMAIN_ANSWER_SECONDS, found is not None)
        return found is not None
