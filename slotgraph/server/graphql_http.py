"""The GraphQL-over-HTTP media types: `application/graphql-response+json` for a client whose
`Accept` asks for it, `application/json` (exactly as before) for everyone else.

With `application/graphql-response+json` the status says what happened, as the spec asks:
a request error (the body is not JSON, parameters are invalid, the document does not parse
or validate, variables do not fit, unsafe text) is a 4xx with a JSON body of `errors` and
no `data` entry; a result that executed is 200, partial or not. With `application/json` a
GraphQL request error stays a 200 with `data: null`, and the transport's own refusals stay
Strawberry's plain-text 4xx, so existing clients see no change.

Strawberry's view (0.341) knows only `application/json`, so `MediaTypedGraphQL` adds the
negotiation through its public hooks (`__call__`, `run`, `process_result`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from strawberry.asgi import GraphQL
from strawberry.types.execution import PreExecutionError

from slotgraph.graph.context import Context

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send
    from strawberry.http import GraphQLHTTPResponse
    from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_NEGOTIATED = "graphql_media_type"
_REQUEST_ERROR = "graphql_request_error"


def response_media_type(accept: str | None) -> str:
    """The media type to answer with: `application/graphql-response+json` when `Accept`
    names it with a quality at least that of `application/json` (or its wildcards);
    `application/json` otherwise, an absent `Accept` and `*/*` included."""
    best = {GRAPHQL_RESPONSE: 0.0, JSON: 0.0}
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            best[GRAPHQL_RESPONSE] = max(best[GRAPHQL_RESPONSE], quality)
        elif media in (JSON, "application/*", "*/*"):
            best[JSON] = max(best[JSON], quality)
    if best[GRAPHQL_RESPONSE] > 0 and best[GRAPHQL_RESPONSE] >= best[JSON]:
        return GRAPHQL_RESPONSE
    return JSON


def accept_header(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept"), None)


def error_response(
    scope: Scope,
    message: str,
    *,
    status: int,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A GraphQL-shaped error body (`errors`, no `data`) in the negotiated media type."""
    error: dict[str, Any] = {"message": message}
    if extensions:
        error["extensions"] = dict(extensions)
    return JSONResponse(
        {"errors": [error]},
        status_code=status,
        headers=dict(headers or {}),
        media_type=response_media_type(accept_header(scope)),
    )


def is_request_error(result: ExecutionResult) -> bool:
    """Whether execution never started: parse and validation errors, and the pathless
    errors graphql-core answers when variables do not fit (a field error has a path)."""
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


class MediaTypedGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view answering `application/graphql-response+json` when asked.

    Example: `MediaTypedGraphQL(schema)` in place of `strawberry.asgi.GraphQL(schema)`.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or response_media_type(accept_header(scope)) == JSON:
            await super().__call__(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[_NEGOTIATED] = GRAPHQL_RESPONSE
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            response = error_response(scope, exc.reason, status=exc.status_code)
        else:
            if state.get(_REQUEST_ERROR):
                response.status_code = 400
            if response.headers.get("content-type", "").startswith(JSON):
                response.headers["content-type"] = GRAPHQL_RESPONSE
        await response(scope, receive, send)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        answer = await super().process_result(request, result)
        state = request.scope.get("state", {})
        if state.get(_NEGOTIATED) == GRAPHQL_RESPONSE and is_request_error(result):
            answer.pop("data", None)
            state[_REQUEST_ERROR] = True
        return answer
