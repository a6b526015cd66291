"""Extensions of our own: fresh loaders per operation, the one field extension that answers
domain errors, a parser cache that answers syntax errors as every transport expects, and
error masking that lets expected errors through while hiding (and logging) everything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

import structlog
from graphql.error import GraphQLError
from graphql.error import GraphQLSyntaxError
from strawberry.extensions import FieldExtension
from strawberry.extensions import MaskErrors
from strawberry.extensions import ParserCache
from strawberry.extensions import SchemaExtension

from slotgraph.graph.errors import RETRY_AFTER_SECONDS
from slotgraph.graph.errors import SERVICE_UNAVAILABLE_MESSAGE
from slotgraph.graph.errors import Error
from slotgraph.graph.errors import declared_error
from slotgraph.graph.errors import declared_errors
from slotgraph.graph.errors import error_code
from slotgraph.graph.errors import service_unavailable_extensions
from slotgraph.graph.root_results import note_root_result
from slotgraph.models.reachability import database_unreachable
from slotgraph.usecases.errors import DomainError

if TYPE_CHECKING:
    from strawberry.types import Info
    from strawberry.types.execution import StreamExecutionResult
    from strawberry.types.field import StrawberryField

    from slotgraph.graph.context import Context

log = structlog.get_logger("slotgraph.graphql")


class FreshLoaders(SchemaExtension):
    """Give each operation new DataLoaders.

    A websocket keeps one context for all its operations; without this, a subscription
    would serve objects cached by an earlier operation.

    Example: `strawberry.Schema(Query, extensions=[FreshLoaders])`
    """

    def on_operation(self) -> Iterator[None]:
        context: Context = self.execution_context.context
        context.reset_loaders()
        yield


class AnsweredParserCache(ParserCache):
    """Strawberry's `ParserCache`, answering a document that does not parse instead of
    raising from the parse hook.

    Raised there, the error escaped Strawberry's parse handling: a websocket subscription
    got `complete` and no `error`, and a traceback went to the log. Here the hook leaves
    such a document unparsed, so Strawberry's own parse step meets the same error and
    answers it as a request error. On a stream (a websocket), a syntax error is then passed
    as a plain GraphQL error: Strawberry's graphql-transport-ws handler would close the
    whole socket (4400) for a syntax error in one operation, where the protocol's `error`
    message for that operation is the answer (C10's sockets carry other subscriptions).

    Example: `strawberry.Schema(Query, extensions=[lambda: AnsweredParserCache(maxsize=100)])`
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # lru_cache does not cache a raised error: a bad document is parsed again anyway.
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        errors: list[GraphQLError] | None = getattr(result, "errors", None)
        if errors and any(isinstance(error, GraphQLSyntaxError) for error in errors):
            # Only a first result (an ExecutionResult) carries a parse error.
            result.errors = [_plain(error) for error in errors]  # type: ignore[union-attr]
        yield


def _plain(error: GraphQLError) -> GraphQLError:
    if not isinstance(error, GraphQLSyntaxError):
        return error
    return GraphQLError(
        error.message, source=error.source, positions=error.positions, extensions=error.extensions
    )


class DomainErrors(FieldExtension):
    """Answer a `DomainError` raised by the field's resolver, so that no resolver catches
    one: on a field whose result is a union of a success and errors (every mutation), as the
    union's member `map_error` gives; on any other field (`viewer`, `node`, the lists), as
    null with an error carrying the message and `extensions` `code` and `field`.

    A domain error the union does not declare is a bug, not data: it surfaces as a
    TypeError, which `MaskUnexpectedErrors` answers as INTERNAL and logs.

    Example: `strawberry.mutation(resolver=book_meeting, extensions=[DomainErrors()])`
    """

    declared: frozenset[type] = frozenset()

    def apply(self, field: StrawberryField) -> None:
        # Strawberry applies the extension each time a schema is built from the field.
        self.declared = declared_errors(field.type)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            result = next_(source, info, **kwargs)
        except DomainError as exc:
            result = self.answer(exc)
        note_root_result(info, result)  # for the request metrics (C48)
        return result

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        try:
            result = await next_(source, info, **kwargs)
        except DomainError as exc:
            result = self.answer(exc)
        note_root_result(info, result)  # for the request metrics (C48)
        return result

    def answer(self, exc: DomainError) -> Error:
        if self.declared:
            return declared_error(exc, self.declared)
        # graphql-core keeps a GraphQLError's extensions when it locates the error at the
        # field, and `MaskUnexpectedErrors` lets it pass unmasked.
        raise GraphQLError(
            exc.message,
            original_error=exc,
            extensions={"code": error_code(exc), "field": exc.field},
        ) from exc


def is_unexpected(error: GraphQLError) -> bool:
    """Validation errors (unknown field, depth limit ...) have no original error and describe
    the client's own query; expected errors arrive as GraphQLErrors (`DomainErrors`). Any
    other exception, a stray `DomainError` included, is a bug."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Mask every error the client did not cause and log it with the request id; the client
    gets `extensions.code` INTERNAL and the request id to quote.

    Example: `strawberry.Schema(Query, extensions=[MaskUnexpectedErrors])`
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        if database_unreachable(error.original_error):
            return self._service_unavailable(error, request_id)
        log.error(
            "unexpected error",
            request_id=request_id,
            path=error.path,
            exc_info=error.original_error,
        )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked

    def _service_unavailable(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        """C30: the database cannot be reached. Not a bug: a warning without a traceback,
        and over HTTP a 503 with `Retry-After` (the response Strawberry merges into its
        own; a websocket has none)."""
        log.warning(
            "database unreachable",
            request_id=request_id,
            path=error.path,
            error=repr(error.original_error),
        )
        response: Any = getattr(self.execution_context.context, "response", None)
        # Over HTTP, Strawberry's sub-response (a writable `MutableHeaders`); over a
        # websocket, the socket itself, whose headers are the client's and read-only.
        headers: Any = getattr(response, "headers", None)
        if hasattr(headers, "__setitem__"):
            response.status_code = 503
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return GraphQLError(
            SERVICE_UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions=service_unavailable_extensions(request_id),
        )
