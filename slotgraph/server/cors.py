"""Which origins may call `/graphql` from a browser (C24, C35): CORS over HTTP with
Starlette's `CORSMiddleware`, and the websocket handshake's origin check.

Allowed: the origins of `SLOTGRAPH_ALLOWED_ORIGINS` (SPAs elsewhere; none by default in
production, any in the demo), and always the app domain itself and every *verified* connected
domain (C35: pages are served there, so those are same-origin for us; a pending or lapsed
domain counts for nothing, C40). Preflights are answered; `Authorization` and `Content-Type`
may be sent; credentials never are allowed, since auth is a bearer token, not a cookie (C24).

Both checks are synchronous (Starlette's `is_allowed_origin`, Strawberry's
`is_websocket_origin_allowed`), while whether a host is a verified connected domain is a
database question. So it is answered first, asynchronously: `GraphQLCors.__call__` hands the
answer to Starlette's check through a context variable, and `SameOrigins.remember(scope)`
leaves it in a websocket's scope for Strawberry's check (`SlotgraphGraphQL`) to read.
Answers are kept for `DOMAIN_ANSWER_SECONDS` in a small bounded dictionary, so a burst of
preflights or handshakes costs one query per origin, and a newly verified or lapsed domain
counts within that time on every process; a new dependency (cachetools) would buy nothing
over these lines.
"""

from __future__ import annotations

import contextvars
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from strawberry.http.websocket_origin import normalize_origin

from slotgraph.models.reachability import database_unreachable
from slotgraph.usecases.verified_domains import verified_domain_account

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from slotgraph.usecases.services import Services

ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
ALLOWED_METHODS = ("GET", "POST")
PREFLIGHT_MAX_AGE_SECONDS = 600
DOMAIN_ANSWER_SECONDS = 60.0
MAX_REMEMBERED_ORIGINS = 1_000

SAME_ORIGIN_KEY = "slotgraph_same_origin"
_same_origin: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "slotgraph_cors_same_origin", default=False
)


def host_of(origin: str) -> str | None:
    """The lowercase host of an `Origin` value, or None when it is not a web origin."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


class SameOrigins:
    """The app domain and verified connected domains (C35), with answers kept a minute."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app_origin = normalize_origin(services.public_base_url)
        self._answers: dict[str, tuple[float, bool]] = {}

    async def remember(self, scope: Scope) -> None:
        """Answer for the request's `Origin` now, for `is_same_origin_in` to read later."""
        origin = Headers(scope=scope).get("origin")
        same = origin is not None and await self.is_same_origin(origin)
        scope.setdefault("state", {})[SAME_ORIGIN_KEY] = same

    @staticmethod
    def is_same_origin_in(scope: Scope) -> bool:
        return bool(scope.get("state", {}).get(SAME_ORIGIN_KEY))

    async def is_same_origin(self, origin: str) -> bool:
        """The app's own origin (scheme, host and port: other ports of its host may be other
        services), or any origin on a verified connected domain of some account (its owner
        proved control of the whole host, C35, C40)."""
        if self.app_origin is not None and normalize_origin(origin) == self.app_origin:
            return True
        host = host_of(origin)
        if host is None:
            return False
        now = time.monotonic()
        remembered = self._answers.get(host)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        try:
            async with self.services.sessionmaker() as session:
                found = await verified_domain_account(session, host) is not None
        except Exception as error:  # C30: the request itself then answers "database away"
            if not database_unreachable(error):
                raise
            return False  # not remembered: asked again once the database is back
        if len(self._answers) >= MAX_REMEMBERED_ORIGINS:
            self._answers.clear()
        self._answers[host] = (now + DOMAIN_ANSWER_SECONDS, found)
        return found


class GraphQLCors(CORSMiddleware):
    """`CORSMiddleware` that also admits the app domain and connected domains (C35)."""

    def __init__(
        self, app: ASGIApp, *, same_origins: SameOrigins, allowed_origins: tuple[str, ...]
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
        self.same_origins = same_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Starlette's check sees only the origin: the answer reaches it through a context
        variable (each request runs in its own context)."""
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        same = (
            origin is not None
            and not super().is_allowed_origin(origin)  # a configured SPA needs no query
            and await self.same_origins.is_same_origin(origin)
        )
        token = _same_origin.set(same)
        try:
            await super().__call__(scope, receive, send)
        finally:
            _same_origin.reset(token)

    def is_allowed_origin(self, origin: str) -> bool:
        return _same_origin.get() or super().is_allowed_origin(origin)
