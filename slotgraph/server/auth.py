"""Authentication at the edge: bearer tokens on HTTP, `connection_init` on websockets.

HTTP: `Authorization: Bearer <token>`. Websocket (graphql-transport-ws): browsers cannot
set headers, so the token travels in the `connection_init` payload under the key
`authorization` (`{"authorization": "Bearer <token>"}`; a bare token is accepted too).
No token means anonymous; a token that is present but invalid is refused (401 on HTTP,
close 4403 on websockets, C10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from slotgraph.usecases.tokens import authenticate

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from slotgraph.usecases.services import Services
    from slotgraph.usecases.viewer import Viewer

WS_TOKEN_KEY = "authorization"  # noqa: S105 - a key name, not a secret
REFUSED_MESSAGE = (
    "The API token is invalid or revoked; create a new one with `slotgraph create-token`."
)


class InvalidToken(Exception):
    """A token was sent and it does not authenticate anyone."""


def bearer_token(value: object) -> str | None:
    """The token in `Bearer <token>` (or a bare token); None when nothing was sent."""
    if not isinstance(value, str) or not value.strip():
        return None
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip()
    return value.strip()


async def viewer_for(services: Services, raw_header: object) -> Viewer | None:
    token = bearer_token(raw_header)
    if token is None:
        return None
    viewer = await authenticate(services, token)
    if viewer is None:
        raise InvalidToken
    return viewer


class BearerAuth:
    """ASGI middleware for the GraphQL route: puts the viewer in `scope["state"]`, or
    answers 401 with a GraphQL-shaped JSON body when the token is bad."""

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
                response = JSONResponse(
                    {
                        "errors": [
                            {
                                "message": REFUSED_MESSAGE,
                                "extensions": {"code": "UNAUTHENTICATED"},
                            }
                        ]
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})["viewer"] = viewer
        await self.app(scope, receive, send)
