"""Authentication at the edge: bearer tokens on HTTP, `connection_init` on websockets.

HTTP: `Authorization: Bearer <token>`. Websocket (graphql-transport-ws): browsers cannot
set headers, so the token travels in the `connection_init` payload under the key
`authorization` (`{"authorization": "Bearer <token>"}`; a bare token is accepted too, and
the key in any case).

Only no credential means anonymous (C32): no header, or one that is empty or only spaces;
no `authorization` in `connection_init`, or an empty one (JSON null counts as none, since
JSON has no "absent" for a client to write). Every other value is a credential, and one
that does not authenticate is refused (401 on HTTP, close 4403 on websockets, C10): a
number, list, object or boolean, a `Bearer` without a token, a malformed, unknown or
revoked token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from slotgraph.server.graphql_http import error_response
from slotgraph.usecases.tokens import authenticate

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

WS_TOKEN_KEY = "authorization"  # noqa: S105 - a key name, not a secret
REFUSED_MESSAGE = (
    "The API token is invalid or revoked; create a new one with `slotgraph create-token`."
)


class InvalidToken(Exception):
    """A token was sent and it does not authenticate anyone."""


def bearer_token(value: object) -> str | None:
    """The token in `Bearer <token>` (or a bare token); None when no credential was sent.
    Raises InvalidToken for a credential that cannot be a token (C32)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidToken
    text = value.strip()
    if not text:
        return None
    scheme, _, rest = text.partition(" ")
    if scheme.lower() != "bearer":
        return text
    if not rest.strip():
        raise InvalidToken  # "Bearer" and nothing after it
    return rest.strip()


def connection_init_credential(params: Mapping[str, object] | None) -> object:
    """The credential a `connection_init` payload carries under `authorization` (any case);
    None when it carries none. Two differing ones are refused rather than one picked."""
    values = {
        repr(value): value
        for key, value in (params or {}).items()
        if isinstance(key, str) and key.lower() == WS_TOKEN_KEY
    }
    if len(values) > 1:
        raise InvalidToken
    return next(iter(values.values()), None)


async def viewer_for(services: Services, raw: object) -> Viewer | None:
    """The viewer a credential stands for; None when there is none (anonymous).
    Raises InvalidToken for a credential present but unusable."""
    token = bearer_token(raw)
    if token is None:
        return None
    viewer = await authenticate(services, token)
    if viewer is None:
        raise InvalidToken
    return viewer


class BearerAuth:
    """ASGI middleware for the GraphQL route: puts the viewer in `scope["state"]`, or
    answers 401 with a GraphQL-shaped JSON body (in the negotiated media type) when the
    credential is unusable."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            try:
                viewer = await viewer_for(self.services, header)
            except InvalidToken:
                response = error_response(
                    scope,
                    REFUSED_MESSAGE,
                    status=401,
                    extensions={"code": "UNAUTHENTICATED"},
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, send)
